/**
 * Hub processes in cluster mode on one embedded PostgreSQL (scripts/embedded-postgres.ts),
 * started as users start them (support/hub-process.ts), for the cluster figures. Everything
 * stops, on success, failure or Ctrl-C.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEmbeddedPostgres } from '../../scripts/embedded-postgres.ts'
import { startHubProcess, type HubProcess, type Runtime } from '../../support/hub-process.ts'
import { HUB_BENCH_ENV, type ServerUnderTest } from './servers.ts'
import { onInterrupt } from './cleanup.ts'

export interface ClusterHubs {
  a: ServerUnderTest
  b: ServerUnderTest
  hubs: [HubProcess, HubProcess]
}

/** An embedded PostgreSQL and hubs `bench-a` and `bench-b` on it, both on `runtime`. */
export async function withClusterHubs<T>(runtime: Runtime, fn: (cluster: ClusterHubs) => Promise<T>): Promise<T> {
  return withHubsOnPostgres(['bench-a', 'bench-b'], runtime, ([a, b], hubs) => fn({ a, b, hubs: hubs as [HubProcess, HubProcess] }))
}

/** An embedded PostgreSQL and one hub in cluster mode on it; `databaseUrl` for a peer on the same server. */
export async function withClusterHub<T>(
  runtime: Runtime,
  fn: (cluster: { hub: ServerUnderTest; process: HubProcess; databaseUrl: string }) => Promise<T>,
): Promise<T> {
  return withHubsOnPostgres(['bench-a'], runtime, ([hub], [process], databaseUrl) => fn({ hub, process, databaseUrl }))
}

async function withHubsOnPostgres<T>(
  ids: string[],
  runtime: Runtime,
  fn: (servers: ServerUnderTest[], hubs: HubProcess[], databaseUrl: string) => Promise<T>,
): Promise<T> {
  const pg = await startEmbeddedPostgres()
  const releasePg = onInterrupt(() => pg.stop())
  const secret = randomBytes(32).toString('hex')
  const dirs: string[] = []
  const hubs: HubProcess[] = []
  const releaseHubs = onInterrupt(async () => {
    for (const hub of hubs) await hub.stop()
  })
  try {
    for (const id of ids) {
      const dataDir = await mkdtemp(join(tmpdir(), 'agentcom-bench-'))
      dirs.push(dataDir)
      hubs.push(await startHubProcess({ ...HUB_BENCH_ENV, AGENTCOM_DATABASE_URL: pg.url, AGENTCOM_HUB_ID: id }, runtime, { secret, dataDir }))
    }
    const servers = await Promise.all(hubs.map((hub) => asServer(hub, runtime)))
    return await fn(servers, hubs, pg.url)
  } finally {
    releaseHubs()
    for (const hub of hubs) {
      await hub.stop()
      hub.logs.length = 0
    }
    for (const dir of dirs) await rm(dir, { recursive: true, force: true })
    releasePg()
    await pg.stop()
  }
}

async function asServer(hub: HubProcess, runtime: Runtime): Promise<ServerUnderTest> {
  const pid = hub.child.pid!
  return {
    kind: 'hub', runtime, url: hub.url, wsUrl: hub.wsUrl, pid, secret: hub.secret,
    adminHeaders: { authorization: `Bearer ${await hub.adminToken()}` },
    agentPath: '/api/admin/agents/{id}',
    restartPath: '/api/admin/agents/{id}/restart',
    rssBytes: () => 0,
    stop: () => hub.stop(),
  }
}
