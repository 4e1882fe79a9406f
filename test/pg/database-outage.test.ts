/**
 * The cluster's database goes away for 15 s under a Node hub and a Deno hub, with a sidecar
 * on each (real pm2) running tasks: both hubs stay up and keep their agents' sockets, writes
 * answer 503 storage_unavailable promptly and /health 503 for the whole outage, and within
 * 10 s of the database's return writes succeed again; every task accepted completes, once.
 * Its own PostgreSQL server (not the run's shared one), so the test can stop and start it.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from '../../scripts/embedded-postgres.ts'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { createPm2Sandbox, type Pm2Sandbox } from '../../support/pm2.ts'
import { waitFor } from '../../support/wait.ts'

const ROOT = join(import.meta.dirname, '..', '..')
const OUTAGE_MS = 15_000
/** A write must answer within this while the database is gone (no request waits on it). */
const PROMPT_MS = 3_000

let server: EmbeddedPostgresServer
let hubs: HubProcess[]
let pm2: Pm2Sandbox
let ledger: string

beforeAll(async () => {
  server = await startEmbeddedPostgres({ flags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off'] })
  const env = { AGENTCOM_DATABASE_URL: server.url, AGENTCOM_HUB_LEASE_S: '3', AGENTCOM_TASK_GRACE_MS: '20000' }
  const secret = randomBytes(32).toString('hex')
  const dataDir = () => mkdtemp(join(tmpdir(), 'agentcom-hub-'))
  hubs = [
    await startHubProcess({ ...env, AGENTCOM_HUB_ID: 'hub-node' }, 'node', { secret, dataDir: await dataDir() }),
    await startHubProcess({ ...env, AGENTCOM_HUB_ID: 'hub-deno' }, 'deno', { secret, dataDir: await dataDir() }),
  ]
  pm2 = await createPm2Sandbox()
  ledger = join(pm2.home, 'ledger.txt')
  await writeFile(ledger, '')
  const taskCommand = `"${process.execPath}" "${join(ROOT, 'test/fixtures/pg/ledger-task.mjs')}" "${ledger}"`
  const [nodeHub, denoHub] = hubs
  for (const [id, first, second] of [['o-1', nodeHub, denoHub], ['o-2', denoHub, nodeHub]] as const) {
    await pm2.startSidecar(id, {
      AGENTCOM_TOKEN: await nodeHub.agentToken(id), AGENTCOM_HUB_URL: `${first.wsUrl},${second.wsUrl}`, AGENTCOM_TASK_COMMAND: taskCommand,
    })
  }
}, 120_000)

afterAll(async () => {
  await pm2?.kill()
  for (const hub of hubs ?? []) await hub.stop()
  await server?.stop()
})

const agents = async (hub: HubProcess) => (await hub.api('GET', '/api/admin/agents')).body.agents as any[]
const health = async (hub: HubProcess) => (await fetch(`${hub.url}/health`)).status

async function timedPost(hub: HubProcess, body: unknown): Promise<{ status: number; body: any; ms: number }> {
  const started = performance.now()
  const res = await hub.api('POST', '/api/admin/tasks', body)
  return { ...res, ms: performance.now() - started }
}

describe('PostgreSQL stopped for 15 s under a Node hub and a Deno hub', () => {
  it('keeps agents and hubs up, refuses writes promptly, and resumes within 10 s', async () => {
    const [nodeHub] = hubs
    const before = await waitFor(() => agents(nodeHub), (a) => a.length === 2 && a.every((x) => x.connected), { what: 'both agents connected', timeoutMs: 30_000 })
    expect(new Set(before.map((a) => a.hub_id))).toEqual(new Set(['hub-node', 'hub-deno']))
    const pm2Before = await pm2.list()

    // Work in flight when the database goes: running, and queued behind it.
    const accepted: string[] = []
    for (const [i, hub] of [...hubs, ...hubs].entries()) {
      const res = await hub.api('POST', '/api/admin/tasks', { input: { i, sleep_ms: 4000 } })
      expect(res.status).toBe(201)
      accepted.push(res.body.task_id)
    }
    await waitFor(async () => (await readFile(ledger, 'utf8')).split('\n').filter(Boolean).length, (n) => n >= 2, { what: 'two tasks running' })

    await server.pause()
    const stoppedAt = performance.now()
    let writes = 0
    while (performance.now() - stoppedAt < OUTAGE_MS) {
      for (const hub of hubs) {
        const res = await timedPost(hub, { input: { during: true } })
        // An answer from the database's own shutdown may still land first (201): never a hang.
        expect(res.ms, `${hub.runtime} write took ${Math.round(res.ms)} ms`).toBeLessThan(PROMPT_MS)
        if (res.status === 201) accepted.push(res.body.task_id)
        else expect(res).toMatchObject({ status: 503, body: { error: 'storage_unavailable' } })
        if (performance.now() - stoppedAt > 2000) {
          expect(res.status).toBe(503)
          expect(await health(hub), `${hub.runtime} /health during the outage`).toBe(503)
        }
        writes++
      }
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
    expect(writes).toBeGreaterThan(10)
    for (const hub of hubs) expect(hub.child.exitCode, `${hub.runtime} hub exited`).toBeNull()

    await server.resume()
    const resumedAt = performance.now()
    for (const hub of hubs) {
      const res = await waitFor(() => timedPost(hub, { input: { after: true } }), (r) => r.status === 201, { what: `${hub.runtime} accepting writes`, intervalMs: 200 })
      accepted.push(res.body.task_id)
      expect(performance.now() - resumedAt, `${hub.runtime} resumed writes`).toBeLessThan(10_000)
      await waitFor(() => health(hub), (s) => s === 200, { what: `${hub.runtime} healthy`, timeoutMs: 10_000 })
    }

    // The same sockets throughout: nobody reconnected, nothing restarted.
    const after = await agents(nodeHub)
    for (const agent of before) {
      expect(after.find((a) => a.agent_id === agent.agent_id)).toMatchObject({ connected: true, hub_id: agent.hub_id, connected_at: agent.connected_at })
    }
    expect((await pm2.list()).map((p) => p.restart_time)).toEqual(pm2Before.map((p) => p.restart_time))
    for (const hub of hubs) expect(hub.logs.filter((line) => line.includes('letting go of agents'))).toEqual([])

    for (const id of accepted) {
      const task = await waitFor(() => nodeHub.api('GET', `/api/admin/tasks/${id}`), (r) => r.body.status === 'completed', { what: `task ${id} completed`, timeoutMs: 60_000 })
      expect(task.body.status).toBe('completed')
    }
    const runs = (await readFile(ledger, 'utf8')).split('\n').filter(Boolean)
    for (const id of accepted) expect(runs.filter((r) => r === id), `runs of ${id}`).toHaveLength(1)
    for (const hub of hubs) expect(hub.child.exitCode).toBeNull()
  }, 150_000)

  it('with the database gone, each hub exits within 10 s: the Node hub on SIGTERM, the Deno hub on SIGINT', async () => {
    await server.pause()
    // Gone long enough for the lease to have expired and renewals to be failing.
    const expired = (hub: HubProcess) => hub.logs.filter((line) => line.includes('cluster lease may have expired')).length
    const before = hubs.map(expired)
    await waitFor(async () => hubs.map(expired), (n) => n.every((x, i) => x > before[i]), { what: 'both leases expired', timeoutMs: 15_000 })
    const exits = hubs.map((hub, i) => {
      const started = performance.now()
      const exited = new Promise<number>((resolve) => hub.child.once('exit', () => resolve(performance.now() - started)))
      hub.child.kill(i === 0 ? 'SIGTERM' : 'SIGINT')
      return exited
    })
    for (const [i, ms] of (await Promise.all(exits)).entries()) expect(ms, `${hubs[i].runtime} hub exit`).toBeLessThan(10_000)
    await server.resume()
  }, 60_000)
})
