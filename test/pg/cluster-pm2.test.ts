/**
 * Cluster mode end to end: two hub processes on one PostgreSQL, one on Node and one on Deno,
 * and one fleet of sidecars under a real pm2 that know both hubs. A restart asked of one hub
 * for an agent on the other, tasks posted to both hubs that each run once (a ledger the task
 * command writes), a rollout over agents on both hubs, and a hub killed with SIGKILL while a
 * task runs: nothing is lost.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { createPm2Sandbox, type Pm2Sandbox } from '../../support/pm2.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'
import { waitFor } from '../../support/wait.ts'

const ROOT = join(import.meta.dirname, '..', '..')
const CLUSTER_ENV = { AGENTCOM_HUB_LEASE_S: '3', AGENTCOM_TASK_GRACE_MS: '20000' }

let db: TestDatabase
let nodeHub: HubProcess
let denoHub: HubProcess
let pm2: Pm2Sandbox
let ledger: string

beforeAll(async () => {
  db = await createTestDatabase()
  const env = { ...CLUSTER_ENV, AGENTCOM_DATABASE_URL: db.url }
  // One secret for both, so a token is good on either; started together on an empty database
  // (the migration lock makes them take turns).
  const secret = randomBytes(32).toString('hex')
  const dataDir = () => mkdtemp(join(tmpdir(), 'agentcom-hub-'))
  ;[nodeHub, denoHub] = await Promise.all([
    startHubProcess({ ...env, AGENTCOM_HUB_ID: 'hub-node' }, 'node', { secret, dataDir: await dataDir() }),
    startHubProcess({ ...env, AGENTCOM_HUB_ID: 'hub-deno' }, 'deno', { secret, dataDir: await dataDir() }),
  ])
  pm2 = await createPm2Sandbox()
  ledger = join(pm2.home, 'ledger.txt')
  await writeFile(ledger, '')
  const taskCommand = `"${process.execPath}" "${join(ROOT, 'test/fixtures/pg/ledger-task.mjs')}" "${ledger}"`
  // c-1 starts on the Deno hub, c-2 on the Node hub; each fails over to the other.
  await pm2.startSidecar('c-1', {
    AGENTCOM_TOKEN: await nodeHub.agentToken('c-1'), AGENTCOM_HUB_URL: `${denoHub.wsUrl},${nodeHub.wsUrl}`, AGENTCOM_TASK_COMMAND: taskCommand,
  })
  await pm2.startSidecar('c-2', {
    AGENTCOM_TOKEN: await nodeHub.agentToken('c-2'), AGENTCOM_HUB_URL: `${nodeHub.wsUrl},${denoHub.wsUrl}`, AGENTCOM_TASK_COMMAND: taskCommand,
  })
}, 90_000)

afterAll(async () => {
  await pm2?.kill()
  await nodeHub?.stop()
  await denoHub?.stop()
  await db?.drop()
})

const agent = async (hub: HubProcess, id: string) => (await hub.api('GET', `/api/admin/agents/${id}`)).body
const runs = async () => (await readFile(ledger, 'utf8')).split('\n').filter(Boolean)

describe('two hubs (Node and Deno), one fleet under pm2', () => {
  it('both hubs show both agents alike, each on the hub it connected to', async () => {
    await waitFor(() => nodeHub.api('GET', '/api/admin/agents'), (r) => r.body.agents?.filter((a: any) => a.connected).length === 2, { what: 'both agents connected' })
    // The agents' rows move on their own (last_seen, stats, pm2_info): compare whole views read
    // while nothing changed, the Node hub's read before and after the Deno hub's being equal.
    const read = async (hub: HubProcess) => (await hub.api('GET', '/api/admin/agents')).body
    const views = await waitFor(async () => {
      const before = await read(nodeHub)
      const fromDeno = await read(denoHub)
      return { before, fromDeno, after: await read(nodeHub) }
    }, (v) => isDeepStrictEqual(v.before, v.after), { what: 'the agents unchanged across three reads' })
    expect(views.before.agents.map((a: any) => [a.agent_id, a.hub_id])).toEqual([['c-1', 'hub-deno'], ['c-2', 'hub-node']])
    expect(views.fromDeno).toEqual(views.before)
  })

  it('a restart asked of the Node hub for an agent on the Deno hub completes', async () => {
    const before = await pm2.get('agentcom-c-1')
    const res = await nodeHub.api('POST', '/api/admin/agents/c-1/restart', { reason: 'cross-hub' })
    expect(res).toMatchObject({ status: 200, body: { status: 'restart_commanded', agent_id: 'c-1', already_pending: false } })
    const done = await waitFor(() => agent(denoHub, 'c-1'), (a) => a.restart?.state === 'completed', { what: 'c-1 restart completed', timeoutMs: 30_000 })
    expect(done).toMatchObject({ connected: true, restart: { restart_id: res.body.restart_id, reason: 'cross-hub' } })
    expect(done.pm2_info.restart_count).toBe(before.restart_time + 1)
    expect(await pm2.get('agentcom-c-1')).toMatchObject({ status: 'online', restart_time: before.restart_time + 1 })
  })

  it('tasks posted to both hubs each run once', async () => {
    const posted = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      (i % 2 ? nodeHub : denoHub).api('POST', '/api/admin/tasks', { input: { i, sleep_ms: 100 } })))
    expect(posted.map((p) => p.status)).toEqual(Array(10).fill(201))
    const ids = posted.map((p) => p.body.task_id as string)
    for (const id of ids) {
      const task = await waitFor(() => nodeHub.api('GET', `/api/admin/tasks/${id}`), (r) => r.body.status === 'completed', { what: `task ${id}`, timeoutMs: 30_000 })
      expect(task.body).toMatchObject({ attempts: 1, result: { echo: { sleep_ms: 100 } } })
    }
    const ledgerRuns = await runs()
    for (const id of ids) expect(ledgerRuns.filter((r) => r === id)).toHaveLength(1)
  })

  it('a rollout asked of the Deno hub restarts the agents on both hubs once each, one at a time', async () => {
    const before = { 'c-1': (await pm2.get('agentcom-c-1')).restart_time, 'c-2': (await pm2.get('agentcom-c-2')).restart_time }
    const holders = new Set([(await agent(nodeHub, 'c-1')).hub_id, (await agent(nodeHub, 'c-2')).hub_id])
    expect(holders).toEqual(new Set(['hub-node', 'hub-deno']))
    const created = await denoHub.api('POST', '/api/admin/rollouts', { agent_ids: ['c-1', 'c-2'], max_unavailable: 1 })
    expect(created).toMatchObject({ status: 201, body: { state: 'running' } })
    const id = created.body.rollout_id
    const done = await waitFor(() => nodeHub.api('GET', `/api/admin/rollouts/${id}`), (r) => r.body.state !== 'running', { what: 'rollout over', timeoutMs: 60_000 })
    expect(done.body).toMatchObject({ state: 'completed', agents: [{ agent_id: 'c-1', state: 'completed' }, { agent_id: 'c-2', state: 'completed' }] })
    expect((await denoHub.api('GET', `/api/admin/rollouts/${id}`)).body).toEqual(done.body)
    for (const name of ['c-1', 'c-2'] as const) {
      expect(await pm2.get(`agentcom-${name}`)).toMatchObject({ status: 'online', restart_time: before[name] + 1 })
    }
    // One at a time: c-2 was commanded only after c-1 came back.
    const [r1, r2] = await Promise.all([agent(nodeHub, 'c-1'), agent(nodeHub, 'c-2')])
    expect(r2.restart.requested_at).toBeGreaterThanOrEqual(r1.restart.updated_at)
  })

  it('SIGKILL of the hub holding a running task loses nothing: the agent moves, the task completes once', async () => {
    const holder = (await agent(nodeHub, 'c-1')).hub_id === 'hub-node' ? nodeHub : denoHub
    const survivor = holder === nodeHub ? denoHub : nodeHub
    const task = (await survivor.api('POST', '/api/admin/tasks', { input: { sleep_ms: 3000 }, agent_id: 'c-1' })).body
    await waitFor(async () => (await runs()).includes(task.task_id), Boolean, { what: 'the task running' })
    await holder.crash()
    const survivorId = survivor === nodeHub ? 'hub-node' : 'hub-deno'
    const moved = await waitFor(() => agent(survivor, 'c-1'), (a) => a.connected && a.hub_id === survivorId, { what: 'c-1 on the other hub', timeoutMs: 20_000 })
    expect(moved).toMatchObject({ connected: true, hub_id: survivorId })
    const done = await waitFor(() => survivor.api('GET', `/api/admin/tasks/${task.task_id}`), (r) => r.body.status === 'completed', { what: 'task completed', timeoutMs: 20_000 })
    expect(done.body).toMatchObject({ attempts: 1, agent_id: 'c-1', result: { echo: { sleep_ms: 3000 } } })
    expect((await runs()).filter((r) => r === task.task_id)).toHaveLength(1)
  })
})
