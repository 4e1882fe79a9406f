/**
 * The events stream's rows: every hub inserts the events it sees, each hub streams them all in
 * `id` order. An identity is handed out at insert, not at commit, so two inserting
 * transactions can commit out of order and a reader that has streamed "everything after 11"
 * would never see a 10 that committed later. Inserts therefore take a transaction-scoped
 * advisory lock first: one inserter at a time, each committing before the next one draws its
 * ids, so what any reader sees is always every id up to the highest it sees (a rolled-back
 * insert leaves a gap that is never filled, which a reader can skip). The views of one insert
 * share one row (schema-throughput.ts, EVENT_ROWS_OF_VIEWS), which takes as many ids as it holds views,
 * in one range under the same lock; readers see one event per view.
 */
import { inTransaction, type Queryable, type Sql } from './connect.ts'

/** pg_advisory_xact_lock key for inserts into `events` (any constant no other lock uses). */
export const EVENTS_INSERT_LOCK = 0x61_67_65_76 // 'agev'

export interface EventRow {
  id: number
  kind: string
  /** The payload as JSON text, ready for the stream. */
  json: string
}

export async function clusterEpoch(sql: Queryable): Promise<string> {
  const [row] = await sql<{ epoch: string }[]>`SELECT epoch FROM cluster_meta`
  return row.epoch
}

/**
 * Inserts the events in order, one inserter at a time, in one row; returns the last id.
 * `underLock` runs once the lock is held, before the insert: views read there are at least as new
 * as every event already in the table (an inserter's changes commit before its events do). It may
 * still fill or shorten `events`; when none are left, nothing is inserted and 0 returned.
 */
export async function insertEvents(
  sql: Sql, events: { kind: string; payload: unknown }[], notify: (tx: Queryable, lastId: number) => Promise<void>,
  underLock?: (tx: Queryable) => Promise<void>,
): Promise<number> {
  return inTransaction(sql, async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${EVENTS_INSERT_LOCK})`
    await underLock?.(tx)
    // `underLock` may have found nothing left to show (an agent forgotten meanwhile): no id drawn.
    if (events.length === 0) return 0
    // Payloads as JSON text, cast to json as the column takes it: json keeps a task's input or
    // result exactly (U+0000 included), and a jsonb column takes json by assignment.
    const [row] = events.length === 1
      ? await tx<{ id: string }[]>`INSERT INTO events (kind, payload) VALUES (${events[0].kind}, ${JSON.stringify(events[0].payload)}::text::json) RETURNING id`
      // Under the lock nobody else draws ids, so the range from nextval to the setval is this row's alone.
      : await tx<{ id: string }[]>`
        WITH first AS (SELECT nextval(pg_get_serial_sequence('events', 'id')) AS id),
          last AS (SELECT setval(pg_get_serial_sequence('events', 'id'), first.id + ${events.length - 1}) AS id FROM first)
        INSERT INTO events (id, kind, payload, views) OVERRIDING SYSTEM VALUE
        SELECT last.id, 'views', ${JSON.stringify(events)}::text::json, ${events.length} FROM last
        RETURNING id`
    const lastId = Number(row.id)
    await notify(tx, lastId)
    return lastId
  })
}

/**
 * Events after `afterId`, oldest first, from at most `limit` rows. A row of several views
 * (insertEvents) is cut into its events here, not by PostgreSQL: json's functions unescape, and
 * refuse the U+0000 a task's input or result may hold. Its views were written by
 * JSON.stringify, so parsing and writing them again gives each view's text back as it was.
 */
export async function eventsAfter(sql: Queryable, afterId: number, limit: number): Promise<EventRow[]> {
  const rows = await sql<{ id: string; kind: string; views: number; json: string }[]>`
    SELECT id, kind, views, payload::text AS json FROM events WHERE id > ${afterId} ORDER BY id LIMIT ${limit}`
  return rows.flatMap((r) => {
    const last = Number(r.id)
    if (r.views === 1) return [{ id: last, kind: r.kind, json: r.json }]
    const views = JSON.parse(r.json) as { kind: string; payload: unknown }[]
    return views.map((v, i) => ({ id: last - views.length + 1 + i, kind: v.kind, json: JSON.stringify(v.payload) }))
      .filter((e) => e.id > afterId)
  })
}

/** The newest id, 0 when there is none. */
export async function lastEventId(sql: Queryable): Promise<number> {
  const [row] = await sql<{ id: string | null }[]>`SELECT max(id) AS id FROM events`
  return row.id === null ? 0 : Number(row.id)
}

/**
 * Keeps the newest `keep` events, and of those drops what is older than `maxAgeMs` beyond the
 * newest `minKeep` (the stream promises at least 1000 for replay). Returns how many went.
 */
export async function pruneEvents(sql: Queryable, o: { keep: number; minKeep: number; maxAgeMs: number }): Promise<number> {
  const rows = await sql`WITH newest AS (SELECT coalesce(max(id), 0) AS id FROM events)
    DELETE FROM events USING newest
    WHERE events.id <= newest.id - ${o.keep}
       OR (events.id <= newest.id - ${o.minKeep} AND events.at < now() - ${o.maxAgeMs}::float8 * interval '1 millisecond')
    RETURNING events.id`
  return rows.length
}
