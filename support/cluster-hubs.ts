/**
 * Hubs in one process joined to one cluster database, for the tests of test/pg: each a real
 * Node hub on port 0 with its own cluster runtime (lease, bus, revocations), and agents as
 * real WebSocket clients.
 */
import { afterAll, afterEach, beforeAll } from 'vitest'
import { signAdminToken, signAgentToken } from '../hub/auth/auth.ts'
import { startNodeHub, type NodeHubOptions } from '../hub/node/serve.ts'
import { startClusterRuntime, type ClusterRuntime } from '../hub/cluster/runtime.ts'
import { createPgAuditStore } from '../hub/access/audit-pg.ts'
import { silentLogger } from '../shared/log.ts'
import { identifiedSocket, type TestSocket } from './ws-client.ts'
import { createTestDatabase, type TestDatabase } from './test-database.ts'
import type { Sql } from '../hub/pg/connect.ts'

export const CLUSTER_SECRET = 'c'.repeat(40)

export interface TestHub {
  id: string
  runtime: ClusterRuntime
  running: Awaited<ReturnType<typeof startNodeHub>>
  wsUrl: string
  /** An admin request with the cluster's admin token (or `token`). */
  api(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>
  stop(): Promise<void>
}

export interface ClusterHubOptions {
  leaseMs?: number
  sweepMs?: number
  hub?: Partial<NodeHubOptions>
}

let adminToken: Promise<string> | null = null
export const clusterAdminToken = () => (adminToken ??= signAdminToken(CLUSTER_SECRET))

export async function startClusterHub(databaseUrl: string, id: string, o: ClusterHubOptions = {}): Promise<TestHub> {
  const runtime = await startClusterRuntime({
    databaseUrl, hubId: id, leaseMs: o.leaseMs ?? 3000, runtime: 'node', log: silentLogger, sweepMs: o.sweepMs ?? 200,
  })
  const running = await startNodeHub({
    port: 0, host: '127.0.0.1', secret: CLUSTER_SECRET, hubId: id, cluster: runtime.attach, store: runtime.store, revocations: runtime.revocations, joinUses: runtime.joinUses,
    log: silentLogger, taskGraceMs: 1000, restartTimeoutMs: 20_000, audit: createPgAuditStore(runtime.sql), ...o.hub,
  })
  const admin = await clusterAdminToken()
  return {
    id, runtime, running, wsUrl: `${running.url.replace('http', 'ws')}/ws`,
    async api(method, path, body, token = admin) {
      const res = await fetch(`${running.url}/api/admin${path}`, {
        method, headers: { authorization: `Bearer ${token}` }, body: body === undefined ? undefined : JSON.stringify(body),
      })
      return { status: res.status, body: await res.json() }
    },
    async stop() {
      await running.close()
      await runtime.stop()
    },
  }
}

export function pm2Info(restartCount: number, pid: number) {
  return { name: 'x', pm_id: 1, pid, status: 'online', uptime_ms: 1, restart_count: restartCount, memory_bytes: 1 }
}

/** An agent identified on `hub` (with a fresh agent token unless `token` is given). */
export async function agentOn(hub: TestHub, agentId: string, extra: Record<string, unknown> = {}, token?: string): Promise<TestSocket> {
  return identifiedSocket(hub.wsUrl, agentId, token ?? await signAgentToken(CLUSTER_SECRET, agentId), { pm2_info: pm2Info(0, 100), ...extra })
}

export interface TwoClusterHubs {
  db: TestDatabase
  a: TestHub
  b: TestHub
}

/**
 * The one two-hub cluster of the tests: a fresh database and hubs `ids[0]` and `ids[1]` on it.
 * `stop()` stops both and drops the database.
 */
export async function startTwoClusterHubs(
  ids: readonly [string, string],
  options: ClusterHubOptions = {},
): Promise<TwoClusterHubs & { stop(): Promise<void> }> {
  const db = await createTestDatabase()
  const hubs: TestHub[] = []
  const stop = async () => {
    for (const hub of hubs) await hub.stop().catch(() => undefined)
    await db.drop()
  }
  try {
    for (const id of ids) hubs.push(await startClusterHub(db.url, id, options))
  } catch (err) {
    await stop()
    throw err
  }
  return { db, a: hubs[0], b: hubs[1], stop }
}

/**
 * For a test file (or a describe block) of two hubs on one cluster database: before its tests,
 * startTwoClusterHubs (with `options()`, read then), handed to `use`; after each test the
 * sockets pushed on the returned list are closed; after all, both hubs stop and the database
 * is dropped. Setup that needs the hubs goes in a beforeAll registered after this call; its
 * afterAll runs before the hubs stop (hooks run as a stack).
 */
export function useTwoClusterHubs(
  ids: readonly [string, string],
  use: (hubs: TwoClusterHubs) => void,
  options: () => ClusterHubOptions = () => ({}),
): TestSocket[] {
  const sockets: TestSocket[] = []
  let stop: (() => Promise<void>) | undefined
  beforeAll(async () => {
    const started = await startTwoClusterHubs(ids, options())
    stop = started.stop
    use(started)
  })
  afterEach(() => {
    for (const s of sockets.splice(0)) s.close()
  })
  afterAll(async () => {
    for (const s of sockets.splice(0)) s.close()
    await stop?.()
  })
  return sockets
}

/**
 * Holds back every hub's healing decider step (each takes the lease row `healing_state` first)
 * until the returned release: what hubs file meanwhile is there for the next step to see. Hold
 * it briefly: a hub's sweep waits on its step.
 */
export async function holdDeciderSteps(sql: Sql): Promise<() => Promise<void>> {
  let release!: () => void
  const released = new Promise<void>((resolve) => { release = resolve })
  let locked!: () => void
  const isLocked = new Promise<void>((resolve) => { locked = resolve })
  const done = sql.begin(async (tx) => {
    await tx`SELECT 1 FROM healing_state FOR UPDATE`
    locked()
    await released
  })
  await Promise.race([isLocked, done])
  return async () => {
    release()
    await done
  }
}
