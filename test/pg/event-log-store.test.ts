/** The event log store conformance suite (support/event-log-store-conformance.ts) on the cluster's event rows. */
import { afterAll, beforeAll } from 'vitest'
import type { Sql } from '../../hub/pg/connect.ts'
import { migrate } from '../../hub/pg/migrate.ts'
import { createPgBus, type PgBus } from '../../hub/pg/notify-bus.ts'
import { PgEventLogStore } from '../../hub/pg/pg-event-store.ts'
import { describeEventLogStore } from '../../support/event-log-store-conformance.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'
import { waitFor } from '../../support/wait.ts'

let db: TestDatabase
let sql: Sql
let bus: PgBus
beforeAll(async () => {
  db = await createTestDatabase()
  sql = db.connect({ max: 4 })
  await migrate(sql)
  bus = await createPgBus(sql, { hubId: 'events-store' })
})
afterAll(async () => {
  await bus?.close()
  await db?.drop()
})

describeEventLogStore('postgres', {
  open: (capacity) => PgEventLogStore.open({ sql, bus, capacity }),
  waitingBehind: async () => {
    await waitFor(async () => (await sql`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).length,
      (n) => n > 0, { what: 'an append waiting on the events lock' })
  },
})
