import { describe, expect, it } from 'vitest'
import type { Sql } from '../../hub/pg/connect.ts'
import { claimAgent, expiredHubs, getAgent, listAgents, pruneHubs, releaseAgent, releaseLease, renewLease, touchAgent } from '../../hub/pg/presence-rows.ts'
import { useMigratedDatabase, type TestDatabase } from '../../support/test-database.ts'
import { waitFor } from '../../support/wait.ts'

const HELLO = { pm2_info: { pid: 42, restart_time: 0 }, supervised: true, instance_id: 'i-1' }
const LONG_LEASE_MS = 60_000

describe('presence on leases', () => {
  let db: TestDatabase
  let sql: Sql
  useMigratedDatabase(['agents', 'hubs'], (database, client) => {
    db = database
    sql = client
  })

  const claim = (hubId: string, agentId: string, connectionId: string) =>
    claimAgent(sql, { hubId, agentId, connectionId, hello: HELLO })

  it('a lease is set from the database clock; the first renewal and one after expiry report a lapse', async () => {
    const [{ now }] = await sql<{ now: number }[]>`SELECT epoch_ms(now()) AS now`
    const first = await renewLease(sql, 'hub-a', LONG_LEASE_MS, 'node')
    expect(first.lapsed).toBe(true)
    expect(first.lease_until).toBeGreaterThanOrEqual(now + LONG_LEASE_MS)
    const second = await renewLease(sql, 'hub-a', LONG_LEASE_MS)
    expect(second.lapsed).toBe(false)
    expect(second.lease_until).toBeGreaterThanOrEqual(first.lease_until)
    await sql`UPDATE hubs SET lease_until = now() - interval '1 second' WHERE hub_id = 'hub-a'`
    expect((await renewLease(sql, 'hub-a', LONG_LEASE_MS)).lapsed).toBe(true)
  })

  it("an agent reads as disconnected once its hub's lease runs out, and that hub may not take agents", async () => {
    await renewLease(sql, 'hub-a', LONG_LEASE_MS)
    expect(await claim('hub-a', 'w1', 'c1')).toEqual({ ok: true, previous_hub_id: null, previous_connection_id: null, previous_pm2_info: null })
    expect(await getAgent(sql, 'w1')).toMatchObject({
      agent_id: 'w1', hub_id: 'hub-a', connected: true, pm2_info: HELLO.pm2_info, supervised: true, instance_id: 'i-1',
    })
    // A short lease, then no renewal: the hub died or lost the database.
    await renewLease(sql, 'hub-a', 1)
    await waitFor(() => getAgent(sql, 'w1'), (a) => a?.connected === false, { what: 'w1 offline after the lease' })
    expect(await expiredHubs(sql)).toEqual(['hub-a'])
    expect(await claim('hub-a', 'w2', 'c2')).toEqual({ ok: false, error: 'lease_expired' })
    expect(await claim('hub-never-leased', 'w2', 'c2')).toEqual({ ok: false, error: 'lease_expired' })
    expect(await getAgent(sql, 'w2')).toBeNull()
  })

  it('a takeover names the hub and connection it replaced; a late close of the old socket changes nothing', async () => {
    await renewLease(sql, 'hub-a', LONG_LEASE_MS)
    await renewLease(sql, 'hub-b', LONG_LEASE_MS)
    await claim('hub-a', 'w1', 'c1')
    // The process the cluster last saw of it, for healing to compare with the one identifying.
    expect(await claim('hub-b', 'w1', 'c2')).toEqual({ ok: true, previous_hub_id: 'hub-a', previous_connection_id: 'c1', previous_pm2_info: HELLO.pm2_info })
    expect(await releaseAgent(sql, 'hub-a', 'w1', 'c1')).toBe(false)
    expect(await touchAgent(sql, 'hub-a', 'w1', 'c1')).toBe(false)
    expect(await touchAgent(sql, 'hub-b', 'w1', 'c2')).toBe(true)
    expect(await getAgent(sql, 'w1')).toMatchObject({ hub_id: 'hub-b', connection_id: 'c2', connected: true })
    expect(await releaseAgent(sql, 'hub-b', 'w1', 'c2')).toBe(true)
    expect(await getAgent(sql, 'w1')).toMatchObject({ hub_id: 'hub-b', connected: false })
    // Identifying again after a clean close replaces no one.
    expect(await claim('hub-a', 'w1', 'c3')).toEqual({ ok: true, previous_hub_id: null, previous_connection_id: null, previous_pm2_info: HELLO.pm2_info })
  })

  it('two hubs taking one new agent at once: the second learns of the first', async () => {
    await renewLease(sql, 'hub-a', LONG_LEASE_MS)
    await renewLease(sql, 'hub-b', LONG_LEASE_MS)
    const other = db.connect()
    const [a, b] = await Promise.all([
      claimAgent(sql, { hubId: 'hub-a', agentId: 'w1', connectionId: 'ca', hello: HELLO }),
      claimAgent(other, { hubId: 'hub-b', agentId: 'w1', connectionId: 'cb', hello: HELLO }),
    ])
    const row = await getAgent(sql, 'w1')
    const [winner, loser] = row!.hub_id === 'hub-a' ? [a, b] : [b, a]
    expect(loser).toEqual({ ok: true, previous_hub_id: null, previous_connection_id: null, previous_pm2_info: null })
    expect(winner).toEqual({
      ok: true, previous_hub_id: row!.hub_id === 'hub-a' ? 'hub-b' : 'hub-a', previous_connection_id: row!.hub_id === 'hub-a' ? 'cb' : 'ca',
      previous_pm2_info: HELLO.pm2_info,
    })
  })

  it('a clean stop ends the lease and disconnects its agents at once; pruning forgets long-dead hubs', async () => {
    await renewLease(sql, 'hub-a', LONG_LEASE_MS)
    await renewLease(sql, 'hub-b', LONG_LEASE_MS)
    await claim('hub-a', 'w1', 'c1')
    await claim('hub-b', 'w2', 'c2')
    await releaseLease(sql, 'hub-a')
    expect((await listAgents(sql)).map((a) => [a.agent_id, a.connected])).toEqual([['w1', false], ['w2', true]])
    await sql`UPDATE hubs SET lease_until = now() - interval '1 hour' WHERE hub_id = 'hub-b'`
    expect(await pruneHubs(sql, 60_000)).toBe(1)
    expect(await sql`SELECT hub_id FROM hubs`).toHaveLength(0)
    // A hub of that id renewing later does not bring its old agents back online.
    await renewLease(sql, 'hub-b', LONG_LEASE_MS)
    expect(await getAgent(sql, 'w2')).toMatchObject({ connected: false })
  })
})
