/**
 * The audit trail of a cluster: the `audit` table (migration 6 in hub/pg/schema.ts), shared by
 * every hub. An append resolves once its INSERT has committed. Every `PRUNE_EVERY` appends a
 * hub deletes what lies beyond the newest `keep` records.
 */
import { isDataError, type Sql } from '../pg/connect.ts'
import { WriteBatch } from '../pg/write-batch.ts'
import { AUDIT_KEEP, type AuditEntry, type AuditFilter, type AuditPage, type AuditRecord, type AuditStore } from './audit-store.ts'

const PRUNE_EVERY = 1000

export function createPgAuditStore(sql: Sql, opts: { keep?: number; pruneEvery?: number } = {}): AuditStore {
  const keep = opts.keep ?? AUDIT_KEEP
  const pruneEvery = opts.pruneEvery ?? PRUNE_EVERY
  let sincePrune = 0

  async function prune(): Promise<void> {
    await sql`DELETE FROM audit WHERE audit_id < (SELECT audit_id FROM audit ORDER BY audit_id DESC OFFSET ${keep - 1} LIMIT 1)`
  }

  // The records of requests answered together go in one statement and one commit (write-batch.ts):
  // under the cluster_task_throughput load, one commit per POST /api/admin/tasks before.
  const batch = new WriteBatch<AuditEntry, string | Error>({
    write: (entries) => insertRecords(sql, entries).catch((err: unknown) => {
      // Refused as data: each on its own, so only that one fails.
      if (!isDataError(err) || entries.length === 1) throw err
      return Promise.all(entries.map((e) => insertRecords(sql, [e]).then(([id]) => id, (x: unknown) => x instanceof Error ? x : new Error(String(x)))))
    }),
  })

  return {
    async append(entry: AuditEntry): Promise<AuditRecord> {
      const saved = await batch.add(entry)
      if (saved instanceof Error) throw saved
      if (++sincePrune >= pruneEvery) {
        sincePrune = 0
        // Bounded, not exact: a failed prune is tried again after the next PRUNE_EVERY appends.
        await prune().catch(() => undefined)
      }
      return { audit_id: saved, ...entry }
    },

    async list(filter: AuditFilter, cursor: string | null, limit: number): Promise<AuditPage> {
      const before = cursor === null ? null : cursor
      const rows = await sql<{ record: AuditRecord }[]>`
        SELECT record FROM audit
        WHERE (${before}::bigint IS NULL OR audit_id < ${before}::bigint)
          AND (${filter.action ?? null}::text IS NULL OR action = ${filter.action ?? null})
          AND (${filter.target ?? null}::text IS NULL OR target = ${filter.target ?? null})
          AND (${filter.actor ?? null}::text IS NULL OR actor = ${filter.actor ?? null} OR record->'actor'->>'jti' = ${filter.actor ?? null})
        ORDER BY audit_id DESC
        LIMIT ${limit + 1}`
      const records = rows.map((r) => r.record)
      const more = records.length > limit
      if (more) records.length = limit
      return { records, next_cursor: more ? records[limit - 1].audit_id : null }
    },
  }
}

/** Inserts the records in one statement; answers their audit_ids, in their order. */
async function insertRecords(sql: Sql, entries: readonly AuditEntry[]): Promise<string[]> {
  // The id is the row's: the record is stored with it, so a read hands back the whole record.
  const batch = entries.map((entry, n) => ({
    n, at: entry.at, record: entry, target: entry.target, action: entry.action,
    actor: 'join_jti' in entry.actor ? entry.actor.join_jti : entry.actor.name,
  }))
  const rows = await sql<{ n: number; audit_id: string }[]>`
    WITH e AS (SELECT * FROM jsonb_to_recordset(${JSON.stringify(batch)}::text::jsonb)
        AS e(n int, at bigint, record jsonb, actor text, action text, target text)),
      ids AS MATERIALIZED (SELECT n, nextval(pg_get_serial_sequence('audit', 'audit_id')) AS audit_id FROM e),
      added AS (
        INSERT INTO audit (audit_id, at, record, actor, action, target)
        OVERRIDING SYSTEM VALUE
        SELECT ids.audit_id, ('epoch'::timestamptz + e.at * interval '1 millisecond'),
          e.record || jsonb_build_object('audit_id', ids.audit_id::text), e.actor, e.action, e.target
        FROM e JOIN ids ON ids.n = e.n
        ORDER BY ids.audit_id
        RETURNING 1)
    SELECT ids.n, ids.audit_id::text AS audit_id, (SELECT count(*) FROM added) AS added FROM ids`
  const byN = new Map(rows.map((r) => [Number(r.n), r.audit_id]))
  return entries.map((_, n) => byN.get(n)!)
}
