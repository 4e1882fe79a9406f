/**
 * The cluster's HealingStore (hub/pg/pg-healing-store.ts) through the one store suite
 * (support/healing-store-conformance.ts), which one hub's memory store runs too
 * (test/unit/healing-store-memory.test.ts). Agents connect on hub `hub-1` under a long lease;
 * what only the cluster has (the decider's lease across hubs, NOTIFY) is cluster-healing-*.test.ts's.
 */
import { afterAll, expect } from 'vitest'
import type { Sql } from '../../hub/pg/connect.ts'
import { createPgBus, type PgBus } from '../../hub/pg/notify-bus.ts'
import { PgHealingStore } from '../../hub/pg/pg-healing-store.ts'
import { claimAgent, releaseAgent, renewLease } from '../../hub/pg/presence-rows.ts'
import { describeHealingStore } from '../../support/healing-store-conformance.ts'
import { useMigratedDatabase } from '../../support/test-database.ts'

const HUB = 'hub-1'
const LONG_LEASE_MS = 600_000

let sql: Sql
let bus: PgBus | null = null
let connections = 0
useMigratedDatabase(['healing_actions', 'healing_requests', 'agent_crashes', 'restarts', 'agents', 'hubs'], (_db, client) => {
  sql = client
})
afterAll(() => bus?.close())

describeHealingStore('PostgreSQL', {
  async fresh(settings) {
    bus ??= await createPgBus(sql, { hubId: HUB })
    // healing_state is one row (never emptied): back to a fleet not paused, with no decider.
    await sql`UPDATE healing_state SET paused = false, decider_hub_id = NULL, decider_lease_until = NULL`
    await renewLease(sql, HUB, LONG_LEASE_MS)
    const store = new PgHealingStore({
      sql, bus, lease: { valid: true }, hubId: HUB, leaseMs: LONG_LEASE_MS, settings, deliverRestart: async () => {},
    })
    const connectionOf = new Map<string, string>()
    return {
      store,
      async connect(agentId) {
        const connectionId = `${agentId}-${++connections}`
        connectionOf.set(agentId, connectionId)
        const hello = { pm2_info: null, supervised: true, instance_id: null, labels: [] }
        expect(await claimAgent(sql, { hubId: HUB, agentId, connectionId, hello })).toMatchObject({ ok: true })
      },
      async disconnect(agentId) {
        expect(await releaseAgent(sql, HUB, agentId, connectionOf.get(agentId)!)).toBe(true)
      },
    }
  },
})
