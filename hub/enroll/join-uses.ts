/**
 * How many enrollments each join token has made, and which agent ids were enrolled: the one
 * owner of both. A use is claimed before the agent token is minted, and only while fewer than
 * the token's `max_uses` were claimed, so no number of hubs or concurrent requests gets more.
 * An enrollment records its agent id and claims a use as one step, both or neither: of
 * concurrent enrollments of one id exactly one succeeds, and a refused one spends no use.
 * Both resolve once durable, so the id is known (409) even to a hub restarted right after.
 * The file store keeps them in the data dir (one hub); the cluster's is PostgreSQL
 * (hub/pg/join-use-rows.ts). A use is forgotten once its token has expired (it is refused anyway),
 * an enrolled id once its remembering ends (the offline TTL: by then the agent has connected
 * and the fleet knows it, or it never came and may be enrolled again).
 */
import * as v from 'valibot'
import type { Logger } from '../../shared/log.ts'
import type { Clock } from '../../shared/time.ts'
import type { StateFiles } from '../tasks/task-store.ts'
import { readRequiredFile } from '../store/required-file.ts'

export interface JoinUseStore {
  /**
   * Records `agentId` as enrolled for `rememberMs` and counts one use of `jti`, both or neither;
   * resolves once saved: `agent_exists` when the id is enrolled already (or being enrolled),
   * `used_up` when the token is, with nothing changed.
   */
  enroll(e: Enrollment): Promise<EnrollOutcome>
}

export interface Enrollment {
  agentId: string
  jti: string
  maxUses: number
  expiresAtMs: number
  rememberMs: number
}

export type EnrollOutcome = 'enrolled' | 'agent_exists' | 'used_up'


/** The file in the data dir. */
export const JOIN_USES_FILE = 'hub-join-uses.json'

const FileSchema = v.object({
  version: v.literal(1),
  tokens: v.record(v.string(), v.object({
    uses: v.pipe(v.number(), v.integer(), v.minValue(0)),
    expires_at: v.pipe(v.number(), v.integer(), v.minValue(0)),
  })),
  /** Enrolled agent ids, each with when it is forgotten (absent in files of earlier hubs). */
  agents: v.optional(v.record(v.string(), v.pipe(v.number(), v.integer(), v.minValue(0)))),
})
type JoinUsesFile = v.InferOutput<typeof FileSchema>

class JoinUses implements JoinUseStore {
  private readonly tokens = new Map<string, { uses: number; expires_at: number }>()
  /** Enrolled agent id -> when it is forgotten. */
  private readonly agents = new Map<string, number>()
  private saving: Promise<void> = Promise.resolve()

  constructor(
    private readonly clock: Clock,
    private readonly persist: ((file: JoinUsesFile) => Promise<void>) | null,
    restored?: JoinUsesFile,
  ) {
    for (const [jti, entry] of Object.entries(restored?.tokens ?? {})) this.tokens.set(jti, entry)
    for (const [agentId, until] of Object.entries(restored?.agents ?? {})) this.agents.set(agentId, until)
  }

  async enroll({ agentId, jti, maxUses, expiresAtMs, rememberMs }: Enrollment): Promise<EnrollOutcome> {
    this.prune()
    // Checked and taken with no await between: a concurrent enrollment of the id sees it at once.
    if (this.agents.has(agentId)) return 'agent_exists'
    const entry = this.tokens.get(jti) ?? { uses: 0, expires_at: expiresAtMs }
    if (entry.uses >= maxUses) return 'used_up'
    this.tokens.set(jti, { ...entry, uses: entry.uses + 1 })
    this.agents.set(agentId, this.clock.now() + rememberMs)
    try {
      await this.save()
    } catch (err) {
      // Not saved, so not enrolled: the id and the use are free again.
      this.agents.delete(agentId)
      const now = this.tokens.get(jti)
      if (now) this.tokens.set(jti, { ...now, uses: now.uses - 1 })
      throw err
    }
    return 'enrolled'
  }

  private prune(): void {
    const now = this.clock.now()
    for (const [jti, entry] of this.tokens) if (entry.expires_at <= now) this.tokens.delete(jti)
    for (const [agentId, until] of this.agents) if (until <= now) this.agents.delete(agentId)
  }

  private save(): Promise<void> {
    const persist = this.persist
    if (!persist) return Promise.resolve()
    // One write at a time, each with the state as it is when it starts.
    const next = this.saving.catch(() => {}).then(() => persist({
      version: 1, tokens: Object.fromEntries(this.tokens), agents: Object.fromEntries(this.agents),
    }))
    this.saving = next
    return next
  }
}

export function createMemoryJoinUses(clock: Clock): JoinUseStore {
  return new JoinUses(clock, null)
}

/**
 * Join-token uses kept in `path`. A file that cannot be read stops the hub: starting without it
 * would let used-up join tokens enroll again.
 */
export async function openFileJoinUses(path: string, files: StateFiles, clock: Clock, log: Logger): Promise<JoinUseStore> {
  const restored = await readRequiredFile(files, path, FileSchema,
    'is not a valid join-token file; the hub will not start without it (restore it, or remove it to forget how often each join token was used)')
  if (restored) {
    log.info('join-token uses restored', { tokens: Object.keys(restored.tokens).length, enrolled_agents: Object.keys(restored.agents ?? {}).length })
  }
  return new JoinUses(clock, (file) => files.writeAtomic(path, `${JSON.stringify(file)}\n`), restored)
}
