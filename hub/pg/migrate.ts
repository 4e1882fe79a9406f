/**
 * Applies the schema's migrations at hub start. Every hub runs this; the advisory lock makes
 * hubs that start together on an empty database take turns, and the first one's transaction
 * is committed before the next reads `schema_migrations`, so each migration runs exactly once.
 */
import { inTransaction, type Sql } from './connect.ts'
import { MIGRATIONS, type Migration } from './schema.ts'

/** Any fixed number works, as long as nothing else in the database locks it: "AgCm" in ASCII. */
export const MIGRATION_LOCK_KEY = 0x4167436d

export interface MigrationResult {
  /** Versions applied by this call, in order; empty when the schema was already current. */
  applied: number[]
  /** The schema version after this call. */
  version: number
}

/**
 * Brings the database to the newest version in `migrations`, in one transaction: a failed
 * migration leaves the database as it was. Refuses a database migrated past what this hub
 * knows (a newer hub's schema), rather than running against tables it does not understand.
 */
export async function migrate(sql: Sql, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationResult> {
  checkOrder(migrations)
  return inTransaction(sql, async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`
    const rows = await tx<{ version: number }[]>`SELECT version FROM schema_migrations ORDER BY version`
    const done = new Set(rows.map((r) => r.version))
    const known = migrations.at(-1)?.version ?? 0
    const newest = rows.at(-1)?.version ?? 0
    if (newest > known) {
      throw new Error(`database schema is at version ${newest}, newer than this hub knows (${known}): upgrade the hub`)
    }
    const applied: number[] = []
    for (const m of migrations) {
      if (done.has(m.version)) continue
      await tx.unsafe(m.sql).simple()
      await tx`INSERT INTO schema_migrations (version, name) VALUES (${m.version}, ${m.name})`
      applied.push(m.version)
    }
    return { applied, version: known }
  })
}

function checkOrder(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${i + 1} has version ${m.version}: versions must be 1, 2, 3, ... in order`)
  })
}
