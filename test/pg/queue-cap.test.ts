/**
 * AGENTCOM_MAX_QUEUED_TASKS in cluster mode: the cap counts the whole cluster's queue, from the
 * database, in the transaction that inserts the task. Two hubs' admins on one database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Sql } from '../../hub/pg/connect.ts'
import { createPgBus, type PgBus } from '../../hub/pg/notify-bus.ts'
import { PgTaskStore } from '../../hub/pg/pg-task-store.ts'
import { silentLogger } from '../../shared/log.ts'
import { createAdmin, type AdminBackend } from '../../hub/api/admin.ts'
import { PgAdminStore } from '../../hub/pg/pg-admin-store.ts'
import { PgTaskAdmin } from '../../hub/pg/pg-task-admin.ts'
import type { RolloutEngine } from '../../hub/rollouts/engine.ts'
import { QueueFull } from '../../hub/security/queue-cap.ts'
import { useMigratedDatabase } from '../../support/test-database.ts'

let sql: Sql
const buses: PgBus[] = []
useMigratedDatabase(['tasks'], (_db, migrated) => {
  sql = migrated
})
beforeAll(async () => {
  buses.push(await createPgBus(sql, { hubId: 'hub-a' }), await createPgBus(sql, { hubId: 'hub-b' }))
})
afterAll(async () => {
  for (const bus of buses) await bus.close()
})

function clusterAdmin(bus: PgBus, hubId: string, maxQueuedTasks: number): AdminBackend {
  let n = 0
  const store = new PgTaskStore({ sql, bus, hubId, log: silentLogger, maxAttempts: 5, maxQueuedTasks })
  const tasks = new PgTaskAdmin({ sql, bus, hubId, store, maxQueuedTasks, here: { newId: () => `${hubId}-task-${++n}`, changed: () => {}, cancelHere: () => {} } })
  return createAdmin({ store: new PgAdminStore({ sql, bus, hubId, healing: {} as never, drainedHere: () => {}, agentChanged: () => {} }), tasks, rollouts: {} as RolloutEngine, restarts: {} as never, defaultTimeoutMs: 60_000 })
}

const queued = async () => (await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM tasks WHERE status = 'queued'`)[0].n

describe('AGENTCOM_MAX_QUEUED_TASKS (cluster)', () => {
  it('queues the cap over two hubs, refuses the next on either with QueueFull and inserts nothing', async () => {
    const a = clusterAdmin(buses[0], 'hub-a', 4)
    const b = clusterAdmin(buses[1], 'hub-b', 4)
    await a.createTask(1, null, undefined)
    await b.createTask(2, null, undefined)
    await a.createTask(3, null, undefined)
    await b.createTask(4, null, undefined)
    await expect(a.createTask(5, null, undefined)).rejects.toBeInstanceOf(QueueFull)
    await expect(b.createTask(6, null, undefined)).rejects.toBeInstanceOf(QueueFull)
    expect(await queued()).toBe(4)
    // A task leaving the queue makes room for one.
    await sql`UPDATE tasks SET status = 'completed' WHERE task_id = 'hub-a-task-1'`
    await b.createTask(7, null, undefined)
    await expect(a.createTask(8, null, undefined)).rejects.toBeInstanceOf(QueueFull)
  })

  it('never lets hubs creating at once past the cap', async () => {
    const a = clusterAdmin(buses[0], 'hub-a', 10)
    const b = clusterAdmin(buses[1], 'hub-b', 10)
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).createTask(i, null, undefined)))
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10)
    expect(results.every((r) => r.status === 'fulfilled' || r.reason instanceof QueueFull)).toBe(true)
    expect(await queued()).toBe(10)
  })
})
