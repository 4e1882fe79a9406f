/**
 * Transactions on a busy pool. postgres.js 3.4.9's sql.begin reserves its connection only when
 * the write of BEGIN reports room for more (porsager/postgres#1189, #823): when BEGIN is the
 * query that fills a connection's pipeline (100 queries waiting, or a socket write that reports
 * backpressure, as Deno's often does), BEGIN runs unreserved. The hub then answered
 * `POST /api/admin/tasks` with 500 (UNSAFE_TRANSACTION), and the connection went back to the
 * pool inside an open transaction. These tests put BEGIN exactly there.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { inTransaction, type Queryable, type Sql } from '../../hub/pg/connect.ts'
import { migrate } from '../../hub/pg/migrate.ts'
import { createPgBus, type PgBus } from '../../hub/pg/notify-bus.ts'
import { PgTaskStore } from '../../hub/pg/pg-task-store.ts'
import { silentLogger } from '../../shared/log.ts'
import { createAdmin, type AdminBackend } from '../../hub/api/admin.ts'
import { PgAdminStore } from '../../hub/pg/pg-admin-store.ts'
import { PgTaskAdmin } from '../../hub/pg/pg-task-admin.ts'
import type { RolloutEngine } from '../../hub/rollouts/engine.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'

/** postgres.js's default max_pipeline: queries a connection takes behind the one it runs. */
const MAX_PIPELINE = 100
const POOL = 2
const APP = 'agentcom pipelined'

let db: TestDatabase
let sql: Sql
let observer: Sql
let bus: PgBus

beforeAll(async () => {
  db = await createTestDatabase()
  observer = db.connect({ max: 1 })
  await migrate(observer)
  sql = db.connect({ max: POOL, applicationName: APP })
  bus = await createPgBus(sql, { hubId: 'hub-t' })
})
afterAll(async () => {
  await bus?.close()
  await db?.drop()
})
beforeEach(async () => {
  await observer`TRUNCATE tasks`
  // Every connection of the pool open and idle, so the next queries are spread over all of them.
  await Promise.all(Array.from({ length: POOL }, () => sql`SELECT pg_sleep(0.05)`))
})

/** A query sent now (postgres.js sends a query once it is awaited, or at `execute()`). */
const sendNow = () => sql`SELECT 1`.execute()

/**
 * Sends as many queries at once as the pool's connections take before they are full, so the
 * next query sent is the one that fills a connection's pipeline. Resolves when all have run.
 */
function fillPipelines(): Promise<unknown> {
  return Promise.all(Array.from({ length: POOL * MAX_PIPELINE }, sendNow))
}

/** What `p` settles to, its rejection as text; caught at once, so it is never an unhandled one. */
const settled = <T>(p: Promise<T>): Promise<T | string> => p.catch((err) => String(err))

const insert = (q: Queryable, taskId: string) =>
  q`INSERT INTO tasks (task_id, status, input, timeout_ms) VALUES (${taskId}, 'queued', '{}', 1000)`

/** Connections of the pool that sit inside a transaction nobody is running. */
async function strandedTransactions(): Promise<number> {
  const [{ n }] = await observer<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity
    WHERE application_name = ${APP} AND state LIKE 'idle in transaction%'`
  return n
}

function clusterAdmin(): AdminBackend {
  let n = 0
  // Creating a task touches neither rollouts nor healing.
  const store = new PgTaskStore({ sql, bus, hubId: 'hub-t', log: silentLogger, maxAttempts: 5 })
  const tasks = new PgTaskAdmin({ sql, bus, hubId: 'hub-t', store, here: { newId: () => `task-${++n}`, changed: () => {}, cancelHere: () => {} } })
  return createAdmin({ store: new PgAdminStore({ sql, bus, hubId: 'hub-t', healing: {} as never, drainedHere: () => {}, agentChanged: () => {} }), tasks, rollouts: {} as RolloutEngine, restarts: {} as never, defaultTimeoutMs: 60_000 })
}

describe('transactions on a pool whose connections are pipelining', () => {
  it('POST /api/admin/tasks (cluster) commits the task when its BEGIN fills a pipeline', async () => {
    const admin = clusterAdmin()
    const filling = fillPipelines()
    const created = settled(admin.createTask({ n: 1 }, null, undefined))
    await filling
    expect(await created).toMatchObject({ task_id: 'task-1', status: 'queued', input: { n: 1 } })
    // Committed: another connection sees it; and no connection was left inside a transaction.
    expect(await observer`SELECT task_id FROM tasks`).toEqual([{ task_id: 'task-1' }])
    expect(await strandedTransactions()).toBe(0)
  })

  it('a transaction on a full pool leaves no connection inside it: the statements after it commit', async () => {
    const filling = fillPipelines()
    const inserted = settled(inTransaction(sql, (tx) => insert(tx, 'in-transaction')).then(() => 'committed'))
    await filling
    // Then plain statements on every connection of the pool, each committed on its own.
    await Promise.all(Array.from({ length: 2 * POOL }, (_, i) => insert(sql, `after-${i}`)))
    // Settled first: a transaction still running sits 'idle in transaction' between its statements.
    expect(await inserted).toBe('committed')
    expect(await strandedTransactions()).toBe(0)
    const [{ n }] = await observer<{ n: number }[]>`SELECT count(*)::int AS n FROM tasks`
    expect(n).toBe(2 * POOL + 1)
  })

  it('inTransaction rolls back when its work throws, and the connection goes back clean', async () => {
    const filling = fillPipelines()
    const failed = settled(inTransaction(sql, async (tx) => {
      await insert(tx, 'rolled-back')
      throw new Error('abort')
    }))
    await filling
    expect(await failed).toBe('Error: abort')
    // A duplicate key rolls back too, with PostgreSQL's error as it is.
    await inTransaction(sql, (tx) => insert(tx, 'kept'))
    await expect(inTransaction(sql, (tx) => insert(tx, 'kept'))).rejects.toMatchObject({ code: '23505' })
    expect(await observer`SELECT task_id FROM tasks`).toEqual([{ task_id: 'kept' }])
    expect(await strandedTransactions()).toBe(0)
  })
})
