/**
 * The audit trail of a cluster: the `audit` table (migration 6 in hub/pg/schema.ts), shared by
 * every hub. An append resolves once its INSERT has committed. Every `PRUNE_EVERY` appends a
 * hub deletes what lies beyond the newest `keep` records.
 */
import type { Sql } from '../pg/connect.ts'
import { AUDIT_KEEP, type AuditEntry, type AuditFilter, type AuditPage, type AuditRecord, type AuditStore } from './audit-store.ts'

const PRUNE_EVERY = 1000

export function createPgAuditStore(sql: Sql, opts: { keep?: number; pruneEvery?: number } = {}): AuditStore {
  const keep = opts.keep ?? AUDIT_KEEP
  const pruneEvery = opts.pruneEvery ?? PRUNE_EVERY
  let sincePrune = 0

  async function prune(): Promise<void> {
    await sql`DELETE FROM audit WHERE audit_id < (SELECT audit_id FROM audit ORDER BY audit_id DESC OFFSET ${keep - 1} LIMIT 1)`
  }

  return {
    async append(entry: AuditEntry): Promise<AuditRecord> {
      const actor = 'join_jti' in entry.actor ? entry.actor.join_jti : entry.actor.name
      // The id is the row's: the record is stored with it, so a read hands back the whole record.
      const [row] = await sql<{ audit_id: string }[]>`
        WITH id AS (SELECT nextval(pg_get_serial_sequence('audit', 'audit_id')) AS audit_id)
        INSERT INTO audit (audit_id, at, record, actor, action, target)
        OVERRIDING SYSTEM VALUE
        SELECT id.audit_id, ('epoch'::timestamptz + ${entry.at}::bigint * interval '1 millisecond'),
          ${sql.json({ ...entry } as never)}::jsonb || jsonb_build_object('audit_id', id.audit_id::text),
          ${actor}, ${entry.action}, ${entry.target}
        FROM id
        RETURNING audit_id::text AS audit_id`
      if (++sincePrune >= pruneEvery) {
        sincePrune = 0
        // Bounded, not exact: a failed prune is tried again after the next PRUNE_EVERY appends.
        await prune().catch(() => undefined)
      }
      return { audit_id: row.audit_id, ...entry }
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
