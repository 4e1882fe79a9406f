/**
 * The operator verbs and the OpenAPI document in cluster mode: two hubs on one PostgreSQL, an
 * agent on each. Every hub serves the same document, the verbs answer alike through either
 * hub (a command for an agent on the other hub is carried there), and every answer fits the
 * document.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { operatorVerbs } from '../../cli/operator/index.ts'
import type { Answer } from '../../cli/operator/client.ts'
import { agentOn, clusterAdminToken, useTwoClusterHubs, type TestHub } from '../../support/cluster-hubs.ts'
import { createAnswerChecker } from '../../support/openapi-check.ts'
import type { TestSocket } from '../../support/ws-client.ts'
import { waitFor } from '../../support/wait.ts'

let a: TestHub
let b: TestHub
/** The agents stay for the whole file (the list the helper hands back is closed after each test). */
const sockets: TestSocket[] = []
const answers: Answer[] = []

useTwoClusterHubs(['hub-a', 'hub-b'], (hubs) => ({ a, b } = hubs))
beforeAll(async () => {
  sockets.push(await agentOn(a, 'oc-1'), await agentOn(b, 'oc-2'))
  await waitFor(() => b.api('GET', '/agents'), (r) => r.body.agents.filter((x: any) => x.connected).length === 2, { what: 'both agents on both hubs' })
})
afterAll(() => {
  for (const s of sockets) s.close()
})

async function cli(hub: TestHub, args: string[]) {
  const run = { code: -1, out: '', err: '' }
  run.code = await operatorVerbs[args[0]](args.slice(1), {
    stdout: { write: (s: string) => (run.out += s) },
    stderr: { write: (s: string) => (run.err += s) },
    env: { AGENTCOM_URL: hub.running.url, AGENTCOM_TOKEN: await clusterAdminToken() },
    onAnswer: (answer) => answers.push(answer),
  })
  return run
}

describe('operator verbs on a cluster', () => {
  it('agents lists the whole fleet from either hub, with the hub that holds each', async () => {
    for (const hub of [a, b]) {
      const run = await cli(hub, ['agents', '--json'])
      expect(run.code).toBe(0)
      expect(JSON.parse(run.out).agents.map((x: any) => [x.agent_id, x.hub_id])).toEqual([['oc-1', 'hub-a'], ['oc-2', 'hub-b']])
    }
    expect((await cli(b, ['agents'])).out).toMatch(/^AGENT +STATUS +RESTARTS +MEMORY +TASK +VERSION +LAST SEEN\noc-1 +idle +0 /)
  })

  it('drain and resume through the other hub, and healing paused for the whole fleet', async () => {
    expect(JSON.parse((await cli(b, ['drain', 'oc-1', '--json'])).out)).toMatchObject({ agent_id: 'oc-1', drained: true })
    expect(JSON.parse((await cli(a, ['agent', 'oc-1', '--json'])).out).drained).toBe(true)
    expect((await cli(b, ['resume', 'oc-1'])).code).toBe(0)
    expect(JSON.parse((await cli(a, ['agent', 'oc-1', '--json'])).out).drained).toBe(false)
    expect(JSON.parse((await cli(a, ['healing', 'pause', '--json'])).out).paused).toBe(true)
    expect(JSON.parse((await cli(b, ['healing', '--json'])).out).paused).toBe(true)
    expect(JSON.parse((await cli(b, ['healing', 'resume', '--json'])).out).paused).toBe(false)
  })

  it('run creates the task on one hub; task reads it from the other', async () => {
    const created = await cli(a, ['run', '--agent', 'oc-2', '--input', '{"n":1}', '--json'])
    expect(created.code).toBe(0)
    const task = JSON.parse(created.out)
    expect(JSON.parse((await cli(b, ['task', task.task_id, '--json'])).out)).toMatchObject({ task_id: task.task_id, input: { n: 1 } })
    expect(await cli(b, ['agent', 'nobody'])).toMatchObject({ code: 1, err: 'agentcom: agent not found: nobody (404 agent_not_found)\n' })
  })

  it('every hub serves the same document, and every answer fits it', async () => {
    const [docA, docB] = await Promise.all([a, b].map(async (hub) => (await fetch(`${hub.running.url}/api/openapi.json`)).json()))
    expect(docA).toEqual(docB)
    const checker = createAnswerChecker(docA as { paths: Record<string, Record<string, any>> })
    expect(answers.length).toBeGreaterThan(10)
    expect(answers.map((x) => checker.check(x)).filter(Boolean)).toEqual([])
  })
})
