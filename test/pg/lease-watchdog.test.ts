/**
 * The lease's watchdog when its timer fires before the lease has run out by the hub's own
 * monotonic clock (Node's timers run on the event loop's cached clock, which can lag it by a few
 * milliseconds). Seen in lease-split: the watchdog fired, found the lease still valid, and gave
 * up; no renewal ever extended it, so a hub cut off from the database kept its agents for good.
 * Here the hub's clock runs at 90 % of the timers' speed, so every timer fires early by it.
 */
import { expect, it } from 'vitest'
import { HubLease } from '../../hub/cluster/lease.ts'
import { connectDatabase } from '../../hub/pg/connect.ts'
import { silentLogger } from '../../shared/log.ts'
import { startTcpProxy } from '../../support/tcp-proxy.ts'
import { useMigratedDatabase, type TestDatabase } from '../../support/test-database.ts'
import { waitFor } from '../../support/wait.ts'

let db: TestDatabase
useMigratedDatabase(['hubs'], (d) => {
  db = d
})

it('lets go of its agents once the lease runs out by its clock, though every timer fires early', async () => {
  const server = new URL(db.url)
  const proxy = await startTcpProxy(server.hostname, Number(server.port))
  const sql = connectDatabase(proxy.url(db.url), { max: 2, connectTimeoutS: 1 })
  const origin = performance.now()
  const lease = new HubLease({
    sql, hubId: 'slow-clock', leaseMs: 600, runtime: 'node', log: silentLogger,
    now: () => (performance.now() - origin) * 0.9,
  })
  try {
    await lease.start()
    let lost = false
    lease.onLost(() => {
      lost = true
    })
    expect(lease.valid).toBe(true)
    proxy.cut()
    await waitFor(async () => lost, Boolean, { what: 'the lease let go', timeoutMs: 10_000 })
    expect(lease.valid).toBe(false)
  } finally {
    await lease.stop()
    await sql.end({ timeout: 0 })
    await proxy.close()
  }
})
