/**
 * Revoked tokens: the one owner of that state. Two kinds of entry:
 * - an agent's cut-off (`revoked_before`, epoch ms): its tokens issued at or before it are refused;
 * - a jti: that one token is refused, until it would have expired anyway (then it is pruned;
 *   a jti of a token that never expires is kept).
 * Checks answer from memory (every admin request and identify asks); changes are saved before
 * the route answers. The memory store is for tests and embedders; the file store keeps them in
 * the data dir across restarts; a cluster's store (hub/cluster/cluster-revocations.ts) keeps them in the
 * database with a mirror in memory, kept current by the other hubs' notifications.
 */
import * as v from 'valibot'
import type { Logger } from '../../shared/log.ts'
import type { Clock } from '../../shared/time.ts'
import { jtiExpiry, type RevocationCheck, type TokenClaims } from './auth.ts'
import type { StateFiles } from '../tasks/task-store.ts'
import { readRequiredFile } from '../store/required-file.ts'

export interface RevocationStore extends RevocationCheck {
  /** The agent's cut-off (epoch ms), or null if it was never revoked. */
  revokedBefore(agentId: string): number | null
  /**
   * The cut-off as the store of record has it now: a token minted after it must be accepted,
   * even when another hub revoked a moment ago. The same as revokedBefore for a single hub.
   */
  currentRevokedBefore(agentId: string): Promise<number | null>
  /** Refuses every token of `agentId` issued up to now; resolves with the cut-off once saved. */
  revokeAgent(agentId: string): Promise<number>
  /** Refuses the token with this jti; resolves once saved. */
  revokeToken(jti: string): Promise<void>
  /**
   * Revocations made elsewhere (another hub of a cluster), as they become known here, so this
   * hub closes the connections they cut off. Absent: every revoke is made on this hub.
   */
  subscribe?(listener: (revoked: Revoked) => void): () => void
}

export type Revoked = { agent_id: string; revoked_before: number } | { jti: string }

/** The file in the data dir. */
export const REVOCATIONS_FILE = 'hub-revocations.json'

const FileSchema = v.object({
  version: v.literal(1),
  agents: v.record(v.string(), v.pipe(v.number(), v.integer(), v.minValue(0))),
  tokens: v.record(v.string(), v.nullable(v.pipe(v.number(), v.integer(), v.minValue(0)))),
})
type RevocationFile = v.InferOutput<typeof FileSchema>

/** The state and its rules; `persist` writes a snapshot (the memory store has none). */
export class Revocations implements RevocationStore {
  private readonly agents = new Map<string, number>()
  /** jti → the token's expiry (epoch ms), null when it never expires. */
  private readonly tokens = new Map<string, number | null>()
  private saving: Promise<void> = Promise.resolve()

  constructor(
    private readonly clock: Clock,
    private readonly persist: ((file: RevocationFile) => Promise<void>) | null,
    restored?: RevocationFile,
  ) {
    for (const [agentId, at] of Object.entries(restored?.agents ?? {})) this.agents.set(agentId, at)
    for (const [jti, exp] of Object.entries(restored?.tokens ?? {})) this.tokens.set(jti, exp)
    this.prune()
  }

  isRevoked(claims: TokenClaims): boolean {
    if (this.tokens.has(claims.jti)) return true
    if (claims.role !== 'agent') return false
    const before = this.agents.get(claims.sub)
    return before !== undefined && claims.issuedAtMs <= before
  }

  revokedBefore(agentId: string): number | null {
    return this.agents.get(agentId) ?? null
  }

  async currentRevokedBefore(agentId: string): Promise<number | null> {
    return this.revokedBefore(agentId)
  }

  /**
   * A revocation made elsewhere, already saved there. Only ever refuses more: a cut-off never
   * moves back. Returns whether it changed anything here.
   */
  apply(revoked: Revoked): boolean {
    if ('jti' in revoked) {
      const exp = jtiExpiry(revoked.jti)
      if (exp === undefined || this.tokens.has(revoked.jti) || (exp !== null && exp <= this.clock.now())) return false
      this.tokens.set(revoked.jti, exp)
      return true
    }
    if ((this.agents.get(revoked.agent_id) ?? -Infinity) >= revoked.revoked_before) return false
    this.agents.set(revoked.agent_id, revoked.revoked_before)
    return true
  }

  async revokeAgent(agentId: string): Promise<number> {
    // Never moved back: a clock stepping backwards must not let older tokens in again.
    const at = Math.max(this.clock.now(), this.agents.get(agentId) ?? 0)
    this.agents.set(agentId, at)
    await this.save()
    return at
  }

  async revokeToken(jti: string): Promise<void> {
    const exp = jtiExpiry(jti)
    if (exp === undefined) throw new RangeError('not a jti this hub mints')
    this.tokens.set(jti, exp)
    await this.save()
  }

  /** Forgets jtis whose tokens have expired: they are refused as expired anyway. */
  prune(): void {
    const now = this.clock.now()
    for (const [jti, exp] of this.tokens) if (exp !== null && exp <= now) this.tokens.delete(jti)
  }

  /** Applied in memory first (refusing more is always safe); resolves once a snapshot with it is stored. */
  private save(): Promise<void> {
    this.prune()
    const persist = this.persist
    if (!persist) return Promise.resolve()
    // One write at a time, each with the state as it is when it starts.
    const next = this.saving.catch(() => {}).then(() => persist(this.snapshot()))
    this.saving = next
    return next
  }

  private snapshot(): RevocationFile {
    return { version: 1, agents: Object.fromEntries(this.agents), tokens: Object.fromEntries(this.tokens) }
  }
}

export function createMemoryRevocationStore(clock: Clock): RevocationStore {
  return new Revocations(clock, null)
}

/**
 * Revocations kept in `path` (atomic writes through the runtime's StateFiles). A file that
 * cannot be read or parsed stops the hub: starting without its revocations would let revoked
 * tokens in again.
 */
export async function openFileRevocationStore(path: string, files: StateFiles, clock: Clock, log: Logger): Promise<RevocationStore> {
  const restored = await readRequiredFile(files, path, FileSchema,
    'is not a valid revocation file; the hub will not start without its revocations (restore it, or remove it to forget every revocation)')
  if (restored) {
    log.info('revocations restored', { agents: Object.keys(restored.agents).length, tokens: Object.keys(restored.tokens).length })
  }
  return new Revocations(clock, (file) => files.writeAtomic(path, `${JSON.stringify(file)}\n`), restored)
}
