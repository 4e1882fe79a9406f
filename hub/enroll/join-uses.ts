/**
 * How many enrollments each join token has made: the one owner of that count. A use is claimed
 * before the agent token is minted, and only while fewer than the token's `max_uses` were
 * claimed, so no number of hubs or concurrent requests gets more. Claims resolve once durable.
 * The file store keeps the counts in the data dir (one hub); the cluster's is PostgreSQL
 * (hub/pg/join-uses.ts). An entry is forgotten once its token has expired: it is refused anyway.
 */
import * as v from 'valibot'
import type { Logger } from '../../shared/log.ts'
import type { Clock } from '../../shared/time.ts'
import type { StateFiles } from '../task-store.ts'
import { readRequiredFile } from '../store/required-file.ts'

export interface JoinUseStore {
  /**
   * Counts one use of the join token `jti` if fewer than `maxUses` were counted; resolves true
   * once that is saved, false (nothing changed) when the token is used up.
   */
  claimUse(jti: string, maxUses: number, expiresAtMs: number): Promise<boolean>
}

/** The file in the data dir. */
export const JOIN_USES_FILE = 'hub-join-uses.json'

const FileSchema = v.object({
  version: v.literal(1),
  tokens: v.record(v.string(), v.object({
    uses: v.pipe(v.number(), v.integer(), v.minValue(0)),
    expires_at: v.pipe(v.number(), v.integer(), v.minValue(0)),
  })),
})
type JoinUsesFile = v.InferOutput<typeof FileSchema>

class JoinUses implements JoinUseStore {
  private readonly tokens = new Map<string, { uses: number; expires_at: number }>()
  private saving: Promise<void> = Promise.resolve()

  constructor(
    private readonly clock: Clock,
    private readonly persist: ((file: JoinUsesFile) => Promise<void>) | null,
    restored?: JoinUsesFile,
  ) {
    for (const [jti, entry] of Object.entries(restored?.tokens ?? {})) this.tokens.set(jti, entry)
  }

  async claimUse(jti: string, maxUses: number, expiresAtMs: number): Promise<boolean> {
    this.prune()
    const entry = this.tokens.get(jti) ?? { uses: 0, expires_at: expiresAtMs }
    // Counted in memory before the save is awaited: a concurrent claim sees it at once.
    if (entry.uses >= maxUses) return false
    this.tokens.set(jti, { ...entry, uses: entry.uses + 1 })
    try {
      await this.save()
    } catch (err) {
      // Not saved, so not granted: give the use back (the token may be used again).
      const now = this.tokens.get(jti)
      if (now) this.tokens.set(jti, { ...now, uses: now.uses - 1 })
      throw err
    }
    return true
  }

  private prune(): void {
    const now = this.clock.now()
    for (const [jti, entry] of this.tokens) if (entry.expires_at <= now) this.tokens.delete(jti)
  }

  private save(): Promise<void> {
    const persist = this.persist
    if (!persist) return Promise.resolve()
    // One write at a time, each with the state as it is when it starts.
    const next = this.saving.catch(() => {}).then(() => persist({ version: 1, tokens: Object.fromEntries(this.tokens) }))
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
    log.info('join-token uses restored', { tokens: Object.keys(restored.tokens).length })
  }
  return new JoinUses(clock, (file) => files.writeAtomic(path, `${JSON.stringify(file)}\n`), restored)
}
