/**
 * The operator verbs end to end: a real hub process (Node or Deno) and real sidecars under a real
 * pm2. The verbs run in this process with captured streams (their exit code is what they
 * return); two run through the entry as a child process. Every answer the verbs receive is
 * held to the schema the hub's OpenAPI document declares for it.
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { operatorVerbs } from '../../cli/operator/index.ts'
import { AGENT_COLUMNS } from '../../cli/operator/agents.ts'
import type { Answer } from '../../cli/operator/client.ts'
import { RUNTIME, startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { createPm2Sandbox, type Pm2Sandbox } from '../../support/pm2.ts'
import { createAnswerChecker } from '../../support/openapi-check.ts'
import { waitFor } from '../../support/wait.ts'

const ROOT = join(import.meta.dirname, '..', '..')
const FLEET = ['op-1', 'op-2']
const ANSI = /\x1b\[/
/** A restarted agent not back within 8 s fails its restart: long enough for a loaded machine. */
const HUB_ENV = { AGENTCOM_RESTART_TIMEOUT_S: '8' }

let hub: HubProcess
let pm2: Pm2Sandbox
let token: string
const answers: Answer[] = []
/** The events the events verb printed, whose data is held to the document's schemas too. */
const streamed: { event: string; id: string; data: unknown }[] = []

beforeAll(async () => {
  hub = await startHubProcess(HUB_ENV)
  token = await hub.adminToken()
  pm2 = await createPm2Sandbox()
  for (const id of FLEET) await pm2.startSidecar(id, { AGENTCOM_HUB_URL: hub.wsUrl, AGENTCOM_TOKEN: await hub.agentToken(id) })
  for (const id of FLEET) await waitFor(async () => (await hub.api('GET', `/api/admin/agents/${id}`)).body, (a) => a.status === 'idle' && a.stats !== null, { what: `${id} idle, with stats`, timeoutMs: 40_000 })
})

afterAll(async () => {
  await pm2?.kill()
  await hub?.stop()
})

interface Run { code: number; out: string; err: string; answers: Answer[] }

type CliOptions = { tty?: boolean; env?: Record<string, string>; signal?: AbortSignal }

/** Runs one verb in this process, as `agentcom <args>` would. */
const cli = (args: string[], options: CliOptions = {}): Promise<Run> => startCli(args, options).done

/** A verb running: `run` fills as it writes. */
function startCli(args: string[], { tty = false, env = {}, signal }: CliOptions = {}): { run: Run; done: Promise<Run> } {
  const run: Run = { code: -1, out: '', err: '', answers: [] }
  const done = operatorVerbs[args[0]](args.slice(1), {
    stdout: { write: (s: string) => (run.out += s), isTTY: tty },
    stderr: { write: (s: string) => (run.err += s), isTTY: false },
    env: { AGENTCOM_URL: hub.url, AGENTCOM_TOKEN: token, ...env },
    signal,
    onAnswer: (a) => {
      answers.push(a)
      run.answers.push(a)
    },
  }).then((code) => {
    run.code = code
    return run
  })
  return { run, done }
}

/** The one JSON answer of a run, as the verb received it. */
const answerOf = (run: Run, method: string, path: RegExp) => run.answers.filter((a) => a.method === method && path.test(a.path)).at(-1)!.body

describe('operator verbs against a real fleet', () => {
  it('agents: a table with the contract columns, one row per agent; --json is the answer as is', async () => {
    const table = await cli(['agents'])
    expect(table).toMatchObject({ code: 0, err: '' })
    const [header, ...rows] = table.out.trimEnd().split('\n').map((line) => line.split(/ {2,}/))
    expect(header).toEqual([...AGENT_COLUMNS])
    expect(rows.map((r) => r[0])).toEqual(FLEET)
    for (const row of rows) {
      expect(row).toHaveLength(7)
      expect(row[1]).toBe('idle')
      expect(row[2]).toMatch(/^\d+$/)
      expect(row[3]).toMatch(/^\d+\.\d MiB$/)
      expect(row[6]).toMatch(/^\d+ s ago$/)
    }
    expect(table.out).not.toMatch(ANSI)

    const none = await cli(['agents', '--status', 'offline'])
    expect(none).toMatchObject({ code: 0, out: 'AGENT  STATUS  RESTARTS  MEMORY  TASK  VERSION  LAST SEEN\n' })
    expect(answerOf(none, 'GET', /^\/api\/admin\/agents\?status=offline$/)).toEqual({ agents: [] })

    const json = await cli(['agents', '--json'])
    expect(json.code).toBe(0)
    expect(JSON.parse(json.out)).toEqual(answerOf(json, 'GET', /^\/api\/admin\/agents$/))
    expect(JSON.parse(json.out).agents.map((a: any) => a.agent_id)).toEqual(FLEET)
  })

  it('colours on a terminal only, never with NO_COLOR', async () => {
    expect((await cli(['agents'], { tty: true })).out).toMatch(ANSI)
    expect((await cli(['agents'], { tty: true, env: { NO_COLOR: '1' } })).out).not.toMatch(ANSI)
  })

  it('agent: one agent; an unknown one is one line on stderr and exit 1', async () => {
    const json = await cli(['agent', 'op-1', '--json'])
    expect(json.code).toBe(0)
    expect(JSON.parse(json.out)).toEqual(answerOf(json, 'GET', /\/agents\/op-1$/))
    const person = await cli(['agent', 'op-1'])
    expect(person.out).toMatch(/^agent: +op-1\nstatus: +idle\nconnected: yes, since \d+ s ago \(hub \S+\)\n/)
    expect(await cli(['agent', 'nobody'])).toMatchObject({ code: 1, out: '', err: 'agentcom: agent not found: nobody (404 agent_not_found)\n' })
  })

  it('run --wait: exit 0 when the task completed, 1 when it failed; --json is the final task', async () => {
    const ok = await cli(['run', '--agent', 'op-1', '--input', '{"sleep_ms":50}', '--wait'])
    expect(ok.code).toBe(0)
    expect(ok.out).toMatch(/^task \S+ completed on op-1 after 1 attempt: \{"echo":\{"sleep_ms":50\}\}\n$/)
    const failed = await cli(['run', '--agent', 'op-2', '--input', '{"fail":"on purpose"}', '--wait'])
    expect(failed.code).toBe(1)
    expect(failed.out).toMatch(/^task \S+ failed on op-2 after 1 attempt: .*on purpose/)
    const json = await cli(['run', '--input', '{"n":1}', '--wait', '--json'])
    expect(json.code).toBe(0)
    const final = JSON.parse(json.out)
    expect(final).toMatchObject({ status: 'completed', result: { echo: { n: 1 } } })
    expect(final).toEqual(answerOf(json, 'GET', /^\/api\/admin\/tasks\/[^/]+$/))
    const shown = await cli(['task', final.task_id, '--json'])
    expect(JSON.parse(shown.out)).toEqual(final)
    expect((await cli(['task', final.task_id])).out).toMatch(new RegExp(`^task: +${final.task_id}\nstatus: +completed\nagent: +op-\\d\n`))
    const late = await cli(['run', '--agent', 'op-1', '--input', '{"sleep_ms":10000}', '--timeout-ms', '300', '--wait'])
    expect(late.code).toBe(1)
    expect(late.out).toMatch(/^task \S+ failed on op-1 after 1 attempt: /)
  })

  it('run --follow prints the result and exits by the outcome', async () => {
    const run = await cli(['run', '--agent', 'op-1', '--input', '{"sleep_ms":20}', '--follow'])
    expect(run.code).toBe(0)
    expect(run.out).toMatch(/task \S+ completed on op-1 after 1 attempt: \{"echo":\{"sleep_ms":20\}\}\n$/)
  })

  it('drain and resume', async () => {
    const drained = await cli(['drain', 'op-1', '--json'])
    expect(JSON.parse(drained.out)).toMatchObject({ agent_id: 'op-1', drained: true })
    expect((await cli(['agents'])).out).toMatch(/^op-1 +(idle|working) \(drained\) /m)
    expect(await cli(['resume', 'op-1'])).toMatchObject({ code: 0, out: 'op-1 resumed: it takes tasks again\n' })
    expect((await hub.api('GET', '/api/admin/agents/op-1')).body.drained).toBe(false)
  })

  it('restart --wait: until the restart completed, exit 0', async () => {
    const before = (await pm2.get('agentcom-op-2')).restart_time
    const run = await cli(['restart', 'op-2', '--reason', 'cli test', '--wait'])
    expect(run.code).toBe(0)
    expect(run.out).toMatch(/^restart \S+ of op-2 completed: pm2 restart count \d+\n$/)
    expect(run.err).toMatch(/^op-2: restart (commanded|restarting)/m)
    expect((await pm2.get('agentcom-op-2')).restart_time).toBe(before + 1)
  })

  it('rollout --watch: live progress to the end, exit 0 when completed; cancel of an unknown one is exit 1', async () => {
    await waitFor(async () => (await hub.api('GET', '/api/admin/agents')).body.agents, (as: any[]) => as.every((a) => a.status === 'idle'), { what: 'fleet idle' })
    const run = await cli(['rollout', '--max-unavailable', '1', '--reason', 'cli rollout', '--watch'])
    expect(run.code).toBe(0)
    expect(run.out).toMatch(/^rollout (\S+): 2 agents, at most 1 at a time\nrollout \1 completed: 2\/2 completed\n$/)
    expect(run.err).toMatch(/^rollout \S+: 0\/2 completed, /m)
    const id = /^rollout (\S+):/.exec(run.out)![1]
    expect((await hub.api('GET', `/api/admin/rollouts/${id}`)).body.state).toBe('completed')
    expect(await cli(['rollout', 'cancel', 'nope'])).toMatchObject({ code: 1, err: 'agentcom: rollout not found: nope (404 rollout_not_found)\n' })
  })

  it('restart --wait and rollout --watch exit 1 when an agent does not come back', async () => {
    const startDead = async (id: string) => {
      await pm2.startSidecarWith(id, { AGENTCOM_HUB_URL: hub.wsUrl, AGENTCOM_TOKEN: await hub.agentToken(id) }, { autorestart: false })
      await waitFor(async () => (await hub.api('GET', `/api/admin/agents/${id}`)).body, (a) => a.status === 'idle', { what: `${id} idle`, timeoutMs: 40_000 })
    }
    await startDead('op-x')
    const restart = await cli(['restart', 'op-x', '--wait'])
    expect(restart).toMatchObject({ code: 1, out: '', err: expect.stringMatching(/\nagentcom: restart \S+ of op-x failed: \w+\n$/) })

    await startDead('op-y')
    const rollout = await cli(['rollout', '--watch'])
    expect(rollout.code).toBe(1)
    expect(rollout.out).toMatch(/^rollout (\S+): 3 agents, at most 1 at a time\nrollout \1 failed: 2\/3 completed, 1 failed/)
    expect(rollout.err).toMatch(/\nagentcom: rollout \S+ failed\n$/)
  }, 90_000)

  it('healing: the view, pause and resume', async () => {
    const paused = await cli(['healing', 'pause', '--json'])
    expect(JSON.parse(paused.out).paused).toBe(true)
    expect((await cli(['healing'])).out).toMatch(/^healing: paused\npolicy: {2}crash limit \d+ in \d+ s/)
    expect(JSON.parse((await cli(['healing', 'resume', '--json'])).out).paused).toBe(false)
  })

  it('usage errors: exit 2 with the usage of that verb', async () => {
    expect(await cli(['restart'])).toMatchObject({ code: 2, out: '', err: expect.stringMatching(/^agentcom: missing <id>\nusage: agentcom restart <id> /) })
    expect((await cli(['agents', '--bogus'])).code).toBe(2)
    expect((await cli(['run', '--input', 'not json'])).err).toMatch(/^agentcom: --input must be JSON/)
    expect((await cli(['rollout', '--max-unavailable', '0'])).code).toBe(2)
    expect((await cli(['healing', 'sideways'])).code).toBe(2)
  })

  it('through the entry: a refused token is exit 1 with a line that says so; an unknown verb is exit 2', async () => {
    const entry = (args: string[], env: Record<string, string>) => promisify(execFile)(process.execPath, ['--import', 'tsx', 'cli/agentcom.ts', ...args], {
      cwd: ROOT, env: { ...process.env, AGENTCOM_URL: hub.url, ...env },
    }).then(() => ({ code: 0, stderr: '' }), (err) => ({ code: err.code as number, stderr: err.stderr as string }))
    expect(await entry(['agents'], { AGENTCOM_TOKEN: `${token.slice(0, -2)}xx` })).toEqual({
      code: 1, stderr: 'agentcom: the hub refused the token (401 unauthorized): it is invalid, expired, revoked or not an admin token\n',
    })
    expect((await entry(['frobnicate'], {})).code).toBe(2)
  })

  it('events: one line per event, and after the hub restarts it resumes with Last-Event-ID', async () => {
    const stop = new AbortController()
    const live = startCli(['events', '--json'], { signal: stop.signal })
    const events = async () => live.run.out.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { event: string; id: string; data: any })
    await hub.api('POST', '/api/admin/agents/op-1/drain')
    const before = await waitFor(events, (es) => es.some((e) => e.event === 'agent' && e.data.agent_id === 'op-1' && e.data.drained), { what: 'the drain event' })
    expect(before.every((e) => typeof e.id === 'string' && e.id.length > 0)).toBe(true)
    const lastId = before.at(-1)!.id

    await hub.stop()
    hub = await startHubProcess({ ...HUB_ENV, PORT: new URL(hub.url).port }, RUNTIME, { secret: hub.secret, dataDir: hub.dataDir })
    // A new hub process cannot replay the old one's ids: it answers a Last-Event-ID with a
    // reset, which a stream opened without one never gets.
    const after = await waitFor(events, (es) => es.some((e) => e.event === 'reset'), { what: 'a reset from the new hub', timeoutMs: 40_000 })
    const reset = after.find((e) => e.event === 'reset')!
    expect(reset.id.split('-')[0]).not.toBe(lastId.split('-')[0])
    expect(live.run.err).toMatch(/^agentcom: the events stream (ended|broke \(terminated\)); reconnecting/)
    expect(live.run.err).toMatch(/cannot reach the hub at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED; reconnecting in \d+ ms\n/)
    // Live again: the sidecars come back to the new hub.
    await waitFor(events, (es) => es.slice(es.indexOf(reset)).some((e) => e.event === 'agent' && e.data.connected), { what: 'an agent event after the reset', timeoutMs: 40_000 })
    stop.abort()
    expect((await live.done).code).toBe(0)
    streamed.push(...await events())
  })

  it('every answer the verbs received fits the schema the OpenAPI document declares for it', async () => {
    const doc = await (await fetch(`${hub.url}/api/openapi.json`)).json() as { paths: Record<string, Record<string, any>> }
    const checker = createAnswerChecker(doc)
    // A hub without task control has no output route: `run --follow` got its 404 `not_found`
    // (an unknown route, which the document rightly does not hold) and waited instead.
    const known = answers.filter((a) => !(a.status === 404 && (a.body as { error?: string }).error === 'not_found'))
    expect(known.length).toBeGreaterThan(20)
    expect(known.map((a) => checker.check(a)).filter(Boolean)).toEqual([])
    expect([...new Set(known.map((a) => a.status))]).toEqual(expect.arrayContaining([200, 201, 404]))
    expect(streamed.filter((e) => e.event === 'agent').length).toBeGreaterThanOrEqual(2)
    expect(streamed.map((e) => checker.checkEvent('/api/admin/events', e.event, e.data)).filter(Boolean)).toEqual([])
  })
})
