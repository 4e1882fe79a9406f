/**
 * The README's upgrade, end to end: sidecars of package version X joined under a real pm2,
 * version Y (the same package, built as a later version) installed in their place, a rollout;
 * every agent then reports Y, and a task running during the rollout completes, once.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEMO_TASK, PM2_BIN } from '../../support/pm2.ts'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { waitFor } from '../../support/wait.ts'
import { agentcom, cleanEnv, installPackage, packProject } from '../../support/package.ts'
import { packageVersion } from '../../scripts/build-package.ts'

const X = packageVersion()
const Y = `${X}-upgrade.1`
const AGENTS = ['up-1', 'up-2']
let work: string
let hub: HubProcess | undefined
let agentEnv: NodeJS.ProcessEnv
let tgzY: string
let bin: string

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'agentcom-upgrade-'))
  const tgzX = await packProject(work)
  tgzY = await packProject(work, Y)
  bin = await installPackage(join(work, 'agent-machine'), tgzX)
  hub = await startHubProcess()
  agentEnv = cleanEnv({ PM2_HOME: join(work, 'pm2'), PM2_SILENT: 'true', HOME: work })
}, 300_000)

afterAll(async () => {
  if (existsSync(join(work, 'pm2'))) await promisify(execFile)(process.execPath, [PM2_BIN, 'kill'], { env: agentEnv }).catch(() => undefined)
  await hub?.stop()
  await rm(work, { recursive: true, force: true })
}, 60_000)

const versions = async () => ((await hub!.api('GET', '/api/admin/agents')).body.agents as any[])
  .filter((a) => a.connected && a.status !== 'restarting').map((a) => `${a.agent_id}@${a.version}`).sort()

describe('upgrading the fleet', () => {
  it('installs Y over X, rolls the fleet, and every agent reports Y; a task running meanwhile completes once', async () => {
    const joinToken = (await hub!.api('POST', '/api/admin/join-tokens', { max_uses: AGENTS.length })).body.token
    for (const id of AGENTS) {
      const joined = await agentcom(bin, ['join', hub!.url, '--token', joinToken, '--id', id, '--config-dir', join(work, 'agents'), '--task-command', DEMO_TASK], agentEnv)
      expect(joined.stderr).toBe('')
      expect(joined.code).toBe(0)
    }
    await waitFor(versions, (v) => v.join() === AGENTS.map((id) => `${id}@${X}`).join(), { what: `both agents on ${X}`, timeoutMs: 60_000 })

    const task = (await hub!.api('POST', '/api/admin/tasks', { input: { sleep_ms: 4000 }, agent_id: 'up-1' })).body
    await waitFor(() => hub!.api('GET', `/api/admin/tasks/${task.task_id}`), (r) => r.body.status === 'working', { what: 'the task running' })

    await installPackage(join(work, 'agent-machine'), tgzY)
    expect((await agentcom(bin, ['--version'], agentEnv)).stdout).toBe(`${Y}\n`)
    const rollout = await hub!.api('POST', '/api/admin/rollouts', { max_unavailable: 1, reason: 'upgrade' })
    expect(rollout.status).toBe(201)
    const done = await waitFor(
      () => hub!.api('GET', `/api/admin/rollouts/${rollout.body.rollout_id}`),
      (r) => r.body.state !== 'running',
      { what: 'the rollout', timeoutMs: 120_000 },
    )
    expect(done.body.state).toBe('completed')
    await waitFor(versions, (v) => v.join() === AGENTS.map((id) => `${id}@${Y}`).join(), { what: `both agents on ${Y}`, timeoutMs: 60_000 })
    expect((await hub!.api('GET', `/api/admin/agents?version=${Y}`)).body.agents.map((a: any) => a.agent_id)).toEqual(AGENTS)

    const finished = (await hub!.api('GET', `/api/admin/tasks/${task.task_id}`)).body
    expect(finished).toMatchObject({ status: 'completed', attempts: 1, agent_id: 'up-1', result: { echo: { sleep_ms: 4000 } } })
  })
})
