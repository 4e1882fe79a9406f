/**
 * The other half of the lease rule (docs/cluster.md, "When the database goes away"): a hub cut
 * off from the database alone (its connections reset, as a network split looks from its side)
 * lets go of its agents once its lease may have expired, so they identify on a hub that still
 * reaches the database; back in touch, it takes a lease again and admits agents. The database
 * gone for every hub is test/pg/database-outage.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy.ts'
import { agentOn, startClusterHub, type TestHub } from '../../support/cluster-hubs.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'
import { waitFor } from '../../support/wait.ts'

const LEASE_MS = 1500
let db: TestDatabase
let proxy: TcpProxy
let cutOff: TestHub
let healthy: TestHub

beforeAll(async () => {
  db = await createTestDatabase()
  const server = new URL(db.url)
  proxy = await startTcpProxy(server.hostname, Number(server.port))
  cutOff = await startClusterHub(proxy.url(db.url), 'hub-cut', { leaseMs: LEASE_MS })
  healthy = await startClusterHub(db.url, 'hub-ok', { leaseMs: LEASE_MS })
})

afterAll(async () => {
  proxy?.restore()
  await cutOff?.stop()
  await healthy?.stop()
  await proxy?.close()
  await db?.drop()
})

/** `promise`, or a failure naming `what` after `ms` (the suite's own timeout is 20 minutes). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} not within ${ms} ms`)), ms)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

describe('a hub cut off from the database alone', () => {
  it('lets go of its agents (1013) once its lease may have expired; they identify on the other hub', async () => {
    const socket = await agentOn(cutOff, 'split-1')
    // One that will not come back anywhere: its row must not read connected once the hub is back.
    const gone = await agentOn(cutOff, 'split-0')
    proxy.cut()
    const started = performance.now()
    expect(await within(socket.closed, 20 * LEASE_MS, 'the close of split-1')).toEqual({ code: 1013, reason: 'hub lost its cluster lease' })
    // Not before its lease could have run out, and soon after.
    expect(performance.now() - started).toBeGreaterThan(LEASE_MS / 3)
    expect(performance.now() - started).toBeLessThan(LEASE_MS * 4)
    expect((await within(gone.closed, 20 * LEASE_MS, 'the close of split-0')).code).toBe(1013)
    const moved = await agentOn(healthy, 'split-1')
    expect((await healthy.api('GET', '/agents/split-1')).body).toMatchObject({ connected: true, hub_id: 'hub-ok' })
    moved.close()
  })

  it('back in touch, it takes a lease again and admits agents', async () => {
    proxy.restore()
    await waitFor(async () => cutOff.runtime.lease.valid, Boolean, { what: 'the lease held again', timeoutMs: 10_000 })
    expect((await cutOff.api('GET', '/agents/split-0')).body).toMatchObject({ connected: false, hub_id: 'hub-cut' })
    const socket = await agentOn(cutOff, 'split-2')
    const seen = await waitFor(() => healthy.api('GET', '/agents/split-2'), (r) => r.status === 200, { what: 'split-2 in the cluster', timeoutMs: 5000 })
    expect(seen.body).toMatchObject({ connected: true, hub_id: 'hub-cut' })
    socket.close()
  })
})
