/**
 * The events stream's rows: every hub inserts the events it sees, each hub streams them all in
 * `id` order. An identity is handed out at insert, not at commit, so two inserting
 * transactions can commit out of order and a reader that has streamed "everything after 11"
 * would never see a 10 that committed later. Inserts therefore take a transaction-scoped
 * advisory lock first: one inserter at a time, each committing before the next one draws its
 * ids, so what any reader sees is always every id up to the highest it sees (a rolled-back
 * insert leaves a gap that is never filled, which a reader can skip).
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

/** Inserts the events in order, one inserter at a time; returns the last id. */
export async function insertEvents(sql: Sql, events: { kind: string; payload: unknown }[], notify: (tx: Queryable, lastId: number) => Promise<void>): Promise<number> {
  return inTransaction(sql, async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${EVENTS_INSERT_LOCK})`
    // Payloads as JSON text into a json column (schema.ts, ANY_JSON): a task's input or result
    // may hold U+0000, which jsonb, and json's functions that unescape, refuse.
    const rows = await tx<{ id: string }[]>`INSERT INTO events (kind, payload)
      SELECT e.kind, e.payload::json
      FROM unnest(${events.map((e) => e.kind)}::text[], ${events.map((e) => JSON.stringify(e.payload))}::text[]) WITH ORDINALITY AS e(kind, payload, n)
      ORDER BY e.n
      RETURNING id`
    const lastId = Math.max(...rows.map((r) => Number(r.id)))
    await notify(tx, lastId)
    return lastId
  })
}

/** Events after `afterId`, oldest first, at most `limit`. */
export async function eventsAfter(sql: Queryable, afterId: number, limit: number): Promise<EventRow[]> {
  const rows = await sql<{ id: string; kind: string; json: string }[]>`
    SELECT id, kind, payload::text AS json FROM events WHERE id > ${afterId} ORDER BY id LIMIT ${limit}`
  return rows.map((r) => ({ id: Number(r.id), kind: r.kind, json: r.json }))
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
