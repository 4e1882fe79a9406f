/**
 * The cluster's TaskQueueStore (hub/pg/pg-task-store.ts) through the one store suite
 * (support/task-queue-store-conformance.ts), which one hub's memory store runs too
 * (test/unit/memory-task-queue-store.test.ts). Agents connect on hub `hub-1` under a long lease.
 */
import { afterAll, expect } from 'vitest'
import type { Sql } from '../../hub/pg/connect.ts'
import { createPgBus, type PgBus } from '../../hub/pg/notify-bus.ts'
import { PgTaskStore } from '../../hub/pg/pg-task-store.ts'
import { claimAgent, releaseAgent, renewLease } from '../../hub/pg/presence-rows.ts'
import { silentLogger } from '../../shared/log.ts'
import { describeTaskQueueStore } from '../../support/task-queue-store-conformance.ts'
import { useMigratedDatabase } from '../../support/test-database.ts'

const HUB = 'hub-1'
const LONG_LEASE_MS = 600_000

let sql: Sql
let bus: PgBus | null = null
let connections = 0
useMigratedDatabase(['tasks', 'agents', 'hubs'], (_db, client) => {
  sql = client
})
afterAll(() => bus?.close())

describeTaskQueueStore('PostgreSQL', {
  async fresh({ maxAttempts, maxQueuedTasks }) {
    bus ??= await createPgBus(sql, { hubId: HUB })
    await renewLease(sql, HUB, LONG_LEASE_MS)
    const store = new PgTaskStore({ sql, bus, hubId: HUB, log: silentLogger, maxAttempts, maxQueuedTasks })
    const connectionOf = new Map<string, string>()
    return {
      store,
      async connect(agentId, labels = []) {
        const connectionId = `${agentId}-${++connections}`
        connectionOf.set(agentId, connectionId)
        const hello = { pm2_info: null, supervised: true, instance_id: null, labels }
        expect(await claimAgent(sql, { hubId: HUB, agentId, connectionId, hello })).toMatchObject({ ok: true })
      },
      async disconnect(agentId) {
        expect(await releaseAgent(sql, HUB, agentId, connectionOf.get(agentId)!)).toBe(true)
      },
    }
  },
})
