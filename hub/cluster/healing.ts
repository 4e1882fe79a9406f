/**
 * Healing in cluster mode, as far as it is shared: the paused flag and the action history live
 * in PostgreSQL, so `GET /api/admin/healing`, `pause` and `resume` answer alike on every hub.
 * Pause and resume are written and announced to every hub in one transaction, and each hub's
 * healing follows (and reads the flag again after every re-LISTEN). Each hub's healing still
 * decides for the agents whose sockets it holds, within its own budget (docs/cluster.md, "Not
 * built yet"); the actions it takes are written here as they are recorded and move on.
 */
import type { Logger } from '../../shared/log.ts'
import type { ChangeFeed } from '../changes.ts'
import type { Healing } from '../healing.ts'
import type { HealingView } from '../healing-policy.ts'
import type { Sql } from '../pg/connect.ts'
import { ALL_HUBS, type PgBus } from '../pg/bus.ts'
import { healingPaused, listHealingActions, saveHealingAction, setHealingPaused } from '../pg/healing.ts'

export const HEALING_PAUSED = 'healing_paused'
/** The history GET /api/admin/healing shows (the contract's "at least the last 1000"). */
export const HEALING_HISTORY = 1000

export interface ClusterHealingDeps {
  sql: Sql
  bus: PgBus
  hubId: string
  log: Logger
  changes: ChangeFeed
  healing: Pick<Healing, 'action' | 'pause' | 'resume' | 'view'>
}

export class ClusterHealing {
  private readonly unsubscribe: Array<() => void>
  private readonly dirty = new Set<string>()
  private writing: Promise<void> | null = null

  constructor(private readonly d: ClusterHealingDeps) {
    this.unsubscribe = [
      d.changes.on('healing', (change) => this.actionChanged(change.action_id)),
      d.bus.subscribe((message) => {
        if (message.kind === HEALING_PAUSED && typeof message.paused === 'boolean') this.follow(message.paused)
      }),
    ]
  }

  /** Reads the shared flag (at start and after every re-LISTEN) and follows it here. */
  async sync(): Promise<void> {
    this.follow(await healingPaused(this.d.sql))
  }

  async view(): Promise<HealingView> {
    await this.settled()
    const [paused, actions] = await Promise.all([healingPaused(this.d.sql), listHealingActions(this.d.sql, HEALING_HISTORY)])
    return { paused, policy: this.d.healing.view().policy, actions }
  }

  pause(): Promise<HealingView> {
    return this.setPaused(true)
  }

  resume(): Promise<HealingView> {
    return this.setPaused(false)
  }

  /** Resolves once every action change so far is written. */
  async settled(): Promise<void> {
    while (this.writing) await this.writing
  }

  close(): void {
    for (const off of this.unsubscribe) off()
  }

  private async setPaused(paused: boolean): Promise<HealingView> {
    await this.d.sql.begin(async (tx) => {
      await setHealingPaused(tx, paused)
      await this.d.bus.publish(ALL_HUBS, { kind: HEALING_PAUSED, paused }, tx)
    })
    this.follow(paused)
    return this.view()
  }

  private follow(paused: boolean): void {
    if (this.d.healing.view().paused === paused) return
    if (paused) this.d.healing.pause()
    else this.d.healing.resume()
  }

  private actionChanged(actionId: string): void {
    this.dirty.add(actionId)
    this.writing ??= this.write().finally(() => {
      this.writing = null
    })
  }

  /** Writes the changed actions, one batch at a time, until none is left. */
  private async write(): Promise<void> {
    while (this.dirty.size > 0) {
      const ids = [...this.dirty]
      this.dirty.clear()
      for (const id of ids) {
        const action = this.d.healing.action(id)
        if (!action) continue
        await saveHealingAction(this.d.sql, this.d.hubId, action).catch((err) => {
          this.d.log.warn('could not record a healing action in the cluster', { action_id: id, error: String(err) })
        })
      }
    }
  }
}
