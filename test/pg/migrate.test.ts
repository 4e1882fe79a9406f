import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { migrate, MIGRATION_LOCK_KEY } from '../../hub/pg/migrate.ts'
import { MIGRATIONS } from '../../hub/pg/schema.ts'
import { waitFor } from '../../support/wait.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'

describe('migrate', () => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await createTestDatabase()
  })
  afterEach(() => db.drop())

  it('two hubs starting at once on an empty database: both succeed, each migration runs once', async () => {
    const hubA = db.connect({ max: 2 })
    const hubB = db.connect({ max: 2 })
    // Hold the lock so both migrators are provably waiting on it at the same time.
    const holder = await hubA.reserve()
    await holder`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`
    const runs = [migrate(hubA), migrate(hubB)]
    const waiting = async () => (await holder<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_locks
      WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)[0].n
    await waitFor(waiting, (n) => n === 2, { what: 'both migrators waiting on the lock' })
    await holder`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`
    holder.release()

    const results = await Promise.all(runs)
    const latest = MIGRATIONS.at(-1)!.version
    expect(results.map((r) => r.version)).toEqual([latest, latest])
    expect(results.map((r) => r.applied).sort((a, b) => b.length - a.length)).toEqual([MIGRATIONS.map((m) => m.version), []])
    const rows = await hubA`SELECT version FROM schema_migrations ORDER BY version`
    expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version))
    const tables = await hubA`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`
    expect(tables.map((t) => t.tablename)).toEqual(expect.arrayContaining(['agents', 'events', 'hubs', 'restarts', 'rollouts', 'tasks']))
  })

  it('running again is a no-op', async () => {
    const sql = db.connect()
    const all = MIGRATIONS.map((m) => m.version)
    expect((await migrate(sql)).applied).toEqual(all)
    expect(await migrate(sql)).toEqual({ applied: [], version: all.at(-1) })
    expect((await sql`SELECT count(*)::int AS n FROM schema_migrations`)[0].n).toBe(all.length)
  })

  it('a failing migration leaves nothing behind, and a later start applies it whole', async () => {
    const sql = db.connect()
    const broken = [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: 'broken', sql: 'CREATE TABLE half (x int); SELECT * FROM no_such_table;' }]
    await expect(migrate(sql, broken)).rejects.toThrow(/relation "no_such_table" does not exist/)
    expect((await sql`SELECT to_regclass('schema_migrations') AS t`)[0].t).toBeNull()
    expect((await sql`SELECT to_regclass('tasks') AS t`)[0].t).toBeNull()
    expect((await migrate(sql)).applied).toEqual(MIGRATIONS.map((m) => m.version))
  })

  it('refuses a database migrated past what this hub knows', async () => {
    const sql = db.connect()
    const known = MIGRATIONS.length
    await migrate(sql, [...MIGRATIONS, { version: known + 1, name: 'from a newer hub', sql: 'CREATE TABLE newer (x int)' }])
    await expect(migrate(sql)).rejects.toThrow(`database schema is at version ${known + 1}, newer than this hub knows (${known}): upgrade the hub`)
  })

  it('refuses migrations out of order', async () => {
    const sql = db.connect()
    await expect(migrate(sql, [{ version: 2, name: 'x', sql: 'SELECT 1' }])).rejects.toThrow(
      'migration 1 has version 2: versions must be 1, 2, 3, ... in order',
    )
  })
})
