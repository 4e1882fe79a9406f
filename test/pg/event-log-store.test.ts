/** The event log store conformance suite (support/event-log-store-conformance.ts) on the cluster's event rows. */
import type { Sql } from '../../hub/pg/connect.ts'
import type { PgBus } from '../../hub/pg/notify-bus.ts'
import { PgEventLogStore } from '../../hub/pg/pg-event-store.ts'
import { describeEventLogStore } from '../../support/event-log-store-conformance.ts'
import { useMigratedDatabase } from '../../support/test-database.ts'
import { waitFor } from '../../support/wait.ts'

let sql: Sql
let bus: PgBus
useMigratedDatabase([], (_db, client, clientBus) => {
  sql = client
  bus = clientBus!
}, { max: 4, busHubId: 'events-store' })

describeEventLogStore('postgres', {
  open: (capacity) => PgEventLogStore.open({ sql, bus, capacity }),
  waitingBehind: async () => {
    await waitFor(async () => (await sql`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).length,
      (n) => n > 0, { what: 'an append waiting on the events lock' })
  },
})
