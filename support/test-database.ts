/**
 * A fresh database per test file on the server the globalSetup provides, dropped after, so no
 * test sees another's rows and none depends on running order.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, inject } from 'vitest'
import { connectDatabase, type Sql } from '../hub/pg/connect.ts'
import { migrate } from '../hub/pg/migrate.ts'
import { createPgBus, type PgBus } from '../hub/pg/notify-bus.ts'

export interface TestDatabase {
  name: string
  url: string
  /** Opens a client on this database; every client opened here is closed by drop(). */
  connect(opts?: { max?: number; applicationName?: string }): Sql
  /** Closes the clients and drops the database (terminating any connection left open). */
  drop(): Promise<void>
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = inject('postgresUrl')
  const name = `agentcom_test_${randomBytes(6).toString('hex')}`
  const admin = connectDatabase(serverUrl, { max: 1 })
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  const clients: Sql[] = []
  return {
    name,
    url: url.href,
    connect(opts = {}) {
      const sql = connectDatabase(url.href, opts)
      clients.push(sql)
      return sql
    },
    async drop() {
      await Promise.all(clients.map((sql) => sql.end({ timeout: 5 })))
      const dropper = connectDatabase(serverUrl, { max: 1 })
      try {
        await dropper.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await dropper.end()
      }
    },
  }
}

export interface MigratedDatabaseOptions {
  /** The pool size of the client handed to `use` (postgres.js's default when unset). */
  max?: number
  /** Also a NOTIFY bus on that client, as the hub of this id; closed before the drop. */
  busHubId?: string
}

/**
 * For a test file or describe block of the cluster store's tests: a fresh database, migrated,
 * handed to `use` (with a client on it, and a bus when asked) before its tests run and dropped
 * after them, with `truncate` (table names) emptied before each test, so no test sees another's rows.
 */
export function useMigratedDatabase(
  truncate: readonly string[],
  use: (db: TestDatabase, sql: Sql, bus: PgBus | null) => void,
  options: MigratedDatabaseOptions = {},
): void {
  let db: TestDatabase | undefined
  let sql: Sql | undefined
  let bus: PgBus | null = null
  beforeAll(async () => {
    db = await createTestDatabase()
    sql = db.connect(options.max === undefined ? {} : { max: options.max })
    await migrate(sql)
    if (options.busHubId !== undefined) bus = await createPgBus(sql, { hubId: options.busHubId })
    use(db, sql, bus)
  })
  afterAll(async () => {
    await bus?.close()
    await db?.drop()
  })
  beforeEach(async () => {
    if (truncate.length > 0) await sql!.unsafe(`TRUNCATE ${truncate.join(', ')}`)
  })
}
