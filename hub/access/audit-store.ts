/**
 * Where audit records are kept: the seam the audit rule (audit.ts) writes through. Two
 * implementations: a file in the data dir (audit-file.ts, one hub) and a PostgreSQL table
 * (audit-pg.ts, a cluster). Both hand out `audit_id`s that grow with each append, so "newest
 * first" is by id, and a cursor is the id of the last record of a page.
 */
import type { AccessRole } from './roles.ts'

/** Who did it: an admin-audience token, or a join token at enrollment. */
export type AuditActor = { name: string; role: AccessRole; jti: string } | { join_jti: string }

export interface AuditEntry {
  /** Epoch ms. */
  at: number
  actor: AuditActor
  peer: string | null
  action: string
  target: string | null
  /** The request's fields (never a token). */
  detail: Record<string, unknown>
  /** The HTTP status answered. */
  status: number
}

export interface AuditRecord extends AuditEntry {
  audit_id: string
}

export interface AuditFilter {
  /** A token's name, its jti, or a join token's jti. */
  actor?: string
  action?: string
  target?: string
}

export interface AuditPage {
  records: AuditRecord[]
  next_cursor: string | null
}

export interface AuditStore {
  /** Resolves with the record once it is durable; rejects when it could not be stored. */
  append(entry: AuditEntry): Promise<AuditRecord>
  /** Newest first, older than `cursor` (an audit_id) when given, at most `limit`. */
  list(filter: AuditFilter, cursor: string | null, limit: number): Promise<AuditPage>
}

/** Records kept at least (the newest ones); a store may hold more between compactions. */
export const AUDIT_KEEP = 100_000

export function matchesFilter(r: AuditRecord, f: AuditFilter): boolean {
  if (f.action !== undefined && r.action !== f.action) return false
  if (f.target !== undefined && r.target !== f.target) return false
  if (f.actor !== undefined) {
    const a = r.actor
    if ('join_jti' in a ? a.join_jti !== f.actor : a.name !== f.actor && a.jti !== f.actor) return false
  }
  return true
}
