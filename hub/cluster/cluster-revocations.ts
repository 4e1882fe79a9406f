/**
 * Revocations in cluster mode: the rows in PostgreSQL are the record, and each hub keeps a
 * mirror in memory, because the token check runs on every admin request and identify and must
 * not wait on the database. A revoke is applied to the mirror first (refusing more is always
 * safe), written, and announced to every hub in the same transaction; each hub applies the
 * announcement to its mirror and closes the connections it cuts off (subscribe). A hub that
 * was not listening reloads every row after it LISTENs again (`reload`), so a missed
 * notification costs a delay, never a revocation.
 */
import type { Clock } from '../../shared/time.ts'
import type { Logger } from '../../shared/log.ts'
import type { TokenClaims } from '../auth/auth.ts'
import { jtiExpiry } from '../auth/auth.ts'
import { storageBound } from './deadline.ts'
import { Revocations, type RevocationStore, type Revoked } from '../auth/revocations.ts'
import { inTransaction, type Sql } from '../pg/connect.ts'
import { ALL_HUBS, type BusMessage, type PgBus } from '../pg/notify-bus.ts'
import { agentCutOff, loadRevocations, revokeAgentRow, revokeTokenRow } from '../pg/revocation-rows.ts'

export const REVOKED_AGENT = 'revoked_agent'
export const REVOKED_TOKEN = 'revoked_token'

export interface ClusterRevocationDeps {
  sql: Sql
  bus: PgBus
  clock: Clock
  log: Logger
}

export class ClusterRevocations implements RevocationStore {
  private readonly mirror: Revocations
  private readonly listeners = new Set<(revoked: Revoked) => void>()
  private readonly unsubscribe: () => void

  private constructor(private readonly d: ClusterRevocationDeps) {
    this.mirror = new Revocations(d.clock, null)
    this.unsubscribe = d.bus.subscribe((message) => this.heard(message))
  }

  /** Listens first, then loads every row: nothing revoked in between is missed. */
  static async open(d: ClusterRevocationDeps): Promise<ClusterRevocations> {
    const store = new ClusterRevocations(d)
    await store.reload()
    return store
  }

  isRevoked(claims: TokenClaims): boolean {
    return this.mirror.isRevoked(claims)
  }

  revokedBefore(agentId: string): number | null {
    return this.mirror.revokedBefore(agentId)
  }

  async currentRevokedBefore(agentId: string): Promise<number | null> {
    const stored = await guard(() => agentCutOff(this.d.sql, agentId))
    if (stored !== null) this.learn({ agent_id: agentId, revoked_before: stored })
    return this.mirror.revokedBefore(agentId)
  }

  /** The cut-off is the database's clock, not this hub's (the hubs' clocks differ). */
  async revokeAgent(agentId: string): Promise<number> {
    const stored = await guard(() => inTransaction(this.d.sql, async (tx) => {
      const revokedBefore = await revokeAgentRow(tx, agentId)
      await this.d.bus.publish(ALL_HUBS, { kind: REVOKED_AGENT, agent_id: agentId, revoked_before: revokedBefore }, tx)
      return revokedBefore
    }))
    this.mirror.apply({ agent_id: agentId, revoked_before: stored })
    return stored
  }

  async revokeToken(jti: string): Promise<void> {
    // Throws RangeError for a jti this hub does not mint, before anything is written.
    await this.mirror.revokeToken(jti)
    await guard(() => inTransaction(this.d.sql, async (tx) => {
      await revokeTokenRow(tx, jti, jtiExpiry(jti) ?? null)
      await this.d.bus.publish(ALL_HUBS, { kind: REVOKED_TOKEN, jti }, tx)
    }))
  }

  subscribe(listener: (revoked: Revoked) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Reads every row again (after a re-LISTEN, notifications may have been missed). */
  async reload(): Promise<void> {
    const rows = await loadRevocations(this.d.sql)
    for (const row of rows.agents) this.learn(row)
    for (const row of rows.tokens) this.learn({ jti: row.jti })
    this.mirror.prune()
  }

  close(): void {
    this.unsubscribe()
    this.listeners.clear()
  }

  private heard(message: BusMessage): void {
    if (message.kind === REVOKED_AGENT && typeof message.agent_id === 'string' && typeof message.revoked_before === 'number') {
      this.learn({ agent_id: message.agent_id, revoked_before: message.revoked_before })
    } else if (message.kind === REVOKED_TOKEN && typeof message.jti === 'string') {
      this.learn({ jti: message.jti })
    }
  }

  /** A revocation this hub did not know of: in force here now, and its connections told. */
  private learn(revoked: Revoked): void {
    if (!this.mirror.apply(revoked)) return
    this.d.log.info('revocation from the cluster', 'jti' in revoked ? { jti: revoked.jti } : revoked)
    for (const listener of this.listeners) {
      try {
        listener(revoked)
      } catch (err) {
        this.d.log.error('revocation listener failed', { error: String(err) })
      }
    }
  }
}

/** A request waits for the database within REQUEST_DEADLINE_MS (deadline.ts). */
const guard = storageBound
