/**
 * One in-process hub on either store, for the behaviour suite (test/behaviour): the store is
 * one setting, AGENTCOM_TEST_STORE=file|pg (vitest.config.ts runs the suite once with each).
 * `file`: a single hub saving to a fresh data dir; `pg`: a hub in cluster mode on a fresh,
 * migrated database of the test PostgreSQL (the `pg` globalSetup). Tests drive it black-box:
 * HTTP on its admin API and raw WebSocket agents that speak the protocol by hand.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'vitest'
import { signAdminToken, signAgentToken } from '../hub/auth/auth.ts'
import { startNodeHub, type NodeHubOptions } from '../hub/node/serve.ts'
import { createFileTaskStore } from '../hub/tasks/task-store.ts'
import { REVOCATIONS_FILE, openFileRevocationStore } from '../hub/auth/revocations.ts'
import { TASKS_FILE } from '../hub/config/config.ts'
import { FLEET_STATE_FILE, createFileFleetStateStore } from '../hub/store/fleet-state.ts'
import { nodeStateFiles } from '../hub/node/platform.ts'
import { JOIN_USES_FILE, openFileJoinUses } from '../hub/enroll/join-uses.ts'
import { AUDIT_FILE, openFileAuditStore } from '../hub/access/audit-file.ts'
import { nodeAuditFiles } from '../hub/node/audit-files.ts'
import { OUTPUT_DIR } from '../hub/tasks/file-output.ts'
import { nodeOutputFiles } from '../hub/node/output-files.ts'
import { silentLogger } from '../shared/log.ts'
import { systemClock } from '../shared/time.ts'
import { CLUSTER_SECRET, pm2Info, startClusterHub } from './cluster-hubs.ts'
import { createTestDatabase, type TestDatabase } from './test-database.ts'
import { identifiedSocket, type TestSocket } from './ws-client.ts'
import { waitFor } from './wait.ts'

export type TestStore = 'file' | 'pg'
export const STORE: TestStore = process.env.AGENTCOM_TEST_STORE === 'pg' ? 'pg' : 'file'

export interface StoreHubOptions {
  /** createHub's options (short timers for deadlines, instead of long waits). */
  hub?: Partial<NodeHubOptions>
  /** Cluster mode: how often the sweep (grace, overdue, restart timeouts) runs. Default 100 ms. */
  sweepMs?: number
}

export interface StoreHub {
  store: TestStore
  url: string
  wsUrl: string
  /** An admin request on /api/admin`path` with an admin token; status and parsed JSON. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>
  /** An agent identified on this hub with a fresh agent token (pm2_info given, so supervised). */
  agent(agentId: string, extra?: Record<string, unknown>): Promise<TestSocket>
  /** A fresh agent token for `agentId`. */
  agentToken(agentId: string): Promise<string>
  /**
   * Stops this hub (its agents' sockets close) and starts another on the same store: the same
   * data dir, or another hub of the cluster on the same database. `url` and `wsUrl` follow.
   */
  restart(): Promise<void>
  /**
   * restart(), but the hub stops as a kill would leave its store: a single hub's changes not
   * saved yet are lost (nothing waits for its saves); a cluster's are its committed rows.
   */
  crash(): Promise<void>
  stop(): Promise<void>
}

/**
 * For a test file: `start()` gives a hub on this run's store, each on its own data dir or
 * database; every hub, socket, dir and database is gone after each test.
 */
export function useStoreHubs(): { start(o?: StoreHubOptions): Promise<StoreHub> } {
  const cleanups: Array<() => Promise<unknown>> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
  })
  return {
    async start(o = {}) {
      const hub = await startStoreHub(o, (cleanup) => cleanups.push(cleanup))
      cleanups.push(() => hub.stop())
      return hub
    },
  }
}

/** Starts one hub on the store and returns its URL and how to stop it. */
type HubStarter = () => Promise<{ url: string; close(): Promise<void>; kill(): Promise<void> }>

async function startStoreHub(o: StoreHubOptions, onCleanup: (cleanup: () => Promise<unknown>) => void): Promise<StoreHub> {
  const hubOptions: Partial<NodeHubOptions> = { taskGraceMs: 1000, restartTimeoutMs: 20_000, ...o.hub }
  const sockets: TestSocket[] = []
  let starter: HubStarter
  if (STORE === 'pg') {
    const db: TestDatabase = await createTestDatabase()
    onCleanup(() => db.drop())
    let started = 0
    starter = async () => {
      const hub = await startClusterHub(db.url, `hub-${++started}`, { sweepMs: o.sweepMs ?? 100, hub: hubOptions })
      return { url: hub.running.url, close: () => hub.stop(), kill: () => hub.stop() }
    }
  } else {
    const dataDir = await mkdtemp(join(tmpdir(), 'agentcom-store-'))
    onCleanup(() => rm(dataDir, { recursive: true, force: true }))
    starter = async () => {
      // As hub/node.ts builds a single hub on its data dir: every store it keeps there.
      const taskStore = createFileTaskStore(join(dataDir, TASKS_FILE), nodeStateFiles, silentLogger)
      const fleetStateStore = createFileFleetStateStore(join(dataDir, FLEET_STATE_FILE), nodeStateFiles, silentLogger)
      const running = await startNodeHub({
        port: 0, host: '127.0.0.1', secret: CLUSTER_SECRET, log: silentLogger, taskStore, restoredTasks: await taskStore.load(),
        fleetStateStore, restoredFleetState: await fleetStateStore.load(),
        revocations: await openFileRevocationStore(join(dataDir, REVOCATIONS_FILE), nodeStateFiles, systemClock, silentLogger),
        joinUses: await openFileJoinUses(join(dataDir, JOIN_USES_FILE), nodeStateFiles, systemClock, silentLogger),
        audit: await openFileAuditStore(join(dataDir, AUDIT_FILE), nodeAuditFiles, { log: silentLogger }),
        outputFiles: { dir: join(dataDir, OUTPUT_DIR), files: nodeOutputFiles },
        ...hubOptions,
      })
      return {
        url: running.url,
        async close() {
          // What a clean stop leaves on disk: every change so far saved.
          await Promise.allSettled([running.hub.tasks?.durable(), running.hub.fleetState?.durable()])
          await running.close()
        },
        kill: () => running.close(),
      }
    }
  }
  let running = await starter()
  const admin = await signAdminToken(CLUSTER_SECRET)
  /**
   * Closes the agents' sockets and, in cluster mode, waits until the hub has recorded them
   * offline: the burst of writes their closes cause opens new pool connections, and postgres.js
   * 3.4.9 rejects with nothing awaiting it (an unhandled rejection) when the pool is ended while
   * one of them is still reading the array types. Stopping a quiet hub avoids that.
   */
  const closeAgents = async () => {
    for (const s of sockets.splice(0)) s.close()
    if (STORE !== 'pg') return
    const offline = async () => {
      const res = await fetch(`${running.url}/api/admin/agents`, { headers: { authorization: `Bearer ${admin}` } })
      const body = await res.json() as { agents: Array<{ connected: boolean }> }
      return body.agents.every((a) => !a.connected)
    }
    await waitFor(offline, Boolean, { timeoutMs: 5000, what: 'agents offline before the hub stops' }).catch(() => undefined)
  }
  const wsUrlOf = (url: string) => `${url.replace('http', 'ws')}/ws`
  return {
    store: STORE,
    get url() {
      return running.url
    },
    get wsUrl() {
      return wsUrlOf(running.url)
    },
    async restart() {
      await closeAgents()
      await running.close()
      running = await starter()
    },
    async crash() {
      await closeAgents()
      await running.kill()
      running = await starter()
    },
    async api(method, path, body) {
      const res = await fetch(`${running.url}/api/admin${path}`, {
        method, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      return { status: res.status, body: await res.json() }
    },
    agentToken: (agentId) => signAgentToken(CLUSTER_SECRET, agentId),
    async agent(agentId, extra = {}) {
      const socket = await identifiedSocket(wsUrlOf(running.url), agentId, await signAgentToken(CLUSTER_SECRET, agentId), {
        pm2_info: pm2Info(0, 100), ...extra,
      })
      sockets.push(socket)
      return socket
    },
    async stop() {
      await closeAgents()
      await running.close()
    },
  }
}
