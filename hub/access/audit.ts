/**
 * The audit rule, written once above both stores: what a record holds and when it is made.
 * A record is appended (durable) before the request it tells of is answered, then goes out on
 * the events stream as `event: audit`. `detail` holds the request's fields, never a token:
 * fields named like credentials are dropped, token-shaped strings are blanked, and a field
 * larger than MAX_FIELD_BYTES is kept as its size only (task inputs may be 64 KiB; a trail of
 * 100 000 of those would not be bounded in any useful sense).
 */
import type { Clock } from '../../shared/time.ts'
import { storableText } from '../tasks/outcome-text.ts'
import type { AuditActor, AuditFilter, AuditPage, AuditRecord, AuditStore } from './audit-store.ts'

const MAX_FIELD_BYTES = 1024
const MAX_TARGET = 200
const MAX_FIELDS = 32
const CREDENTIAL_KEY = /token|secret|password|authorization/i
/** A compact JWS (what every token of ours is), wherever it appears. */
const TOKEN_SHAPED = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g
/**
 * A target holding a token, or the first part of one (the route cut it to 200 characters): a
 * token pasted as the jti to revoke or as an agent id. The trail is readable by viewers.
 */
const TOKEN_IN_TARGET = /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_.-]*/g

export interface AuditRequest {
  actor: AuditActor
  peer: string | null
  action: string
  target: string | null
  /** The request body's text ('' when none). */
  body: string
  status: number
}

export interface AuditTrailDeps {
  store: AuditStore
  /** Where a stored record goes next: the events stream's `audit` event. */
  publish(record: AuditRecord): void
  clock: Clock
}

export class AuditTrail {
  constructor(private readonly d: AuditTrailDeps) {}

  /** Appends the record of one request; resolves once it is durable (rejects when it is not). */
  async record(req: AuditRequest): Promise<AuditRecord> {
    const record = await this.d.store.append({
      at: this.d.clock.now(), actor: req.actor, peer: req.peer && storableText(req.peer), action: req.action,
      target: req.target === null ? null : storableText(req.target).replace(TOKEN_IN_TARGET, '[redacted]').slice(0, MAX_TARGET),
      detail: detailOf(req.body), status: req.status,
    })
    this.d.publish(record)
    return record
  }

  list(filter: AuditFilter, cursor: string | null, limit: number): Promise<AuditPage> {
    return this.d.store.list(filter, cursor, limit)
  }
}

/** The fields of a JSON object body, as the trail keeps them. */
export function detailOf(body: string): Record<string, unknown> {
  if (body.trim() === '') return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return { body: 'not_json', bytes: utf8Bytes(body) }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { body: 'not_an_object' }
  const detail: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(parsed).slice(0, MAX_FIELDS)) {
    if (CREDENTIAL_KEY.test(key)) continue
    const json = stringifyOrNull(value)
    if (json === null) {
      // Nested past what JSON.stringify can walk: the validator refuses it, the trail notes it.
      detail[key] = { omitted: true }
      continue
    }
    const bytes = utf8Bytes(json)
    if (bytes > MAX_FIELD_BYTES) detail[key] = { omitted: true, bytes }
    // What PostgreSQL cannot hold (a record it refused would turn the answer into a 503) is kept
    // as U+FFFD, on both stores alike (outcome-text.ts).
    else detail[storableText(key)] = storableText(TOKEN_SHAPED.test(json) ? JSON.parse(json.replace(TOKEN_SHAPED, '[redacted]')) : value)
    TOKEN_SHAPED.lastIndex = 0
  }
  return detail
}

function stringifyOrNull(value: unknown): string | null {
  try {
    return JSON.stringify(value) ?? null
  } catch {
    return null
  }
}

function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).byteLength
}
