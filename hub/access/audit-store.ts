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
  /** The HTTP status answered; AUDIT_PROCESSING while its request is being answered. */
  status: number
}

/**
 * The status of a record stored before its request acts (102 Processing): the gate stores the
 * record first, so that a request whose record cannot be stored is refused before it changes
 * anything, and completes it with the status answered before the answer leaves. A record that
 * keeps it tells of a request whose outcome the trail does not know: its hub stopped, or could
 * not store the completion, while answering.
 */
export const AUDIT_PROCESSING = 102

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
  /**
   * Replaces the record of `record.audit_id`, appended before (the completion of a record
   * stored with AUDIT_PROCESSING); resolves once durable, rejects when it could not be stored.
   */
  complete(record: AuditRecord): Promise<void>
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
