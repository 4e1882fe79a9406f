/**
 * Healing's one owner on a hub, the same in both modes: the one decider (healing-decider.ts) and
 * healing's part on each hub (hub-healing.ts) over the hub's HealingStore, their steps, and the
 * healing answers of the admin API (the view, pause and resume, read from and written to the
 * store). Only the store differs, with what it brings:
 * - one hub's MemoryHealingStore, saved in the data dir: the decider's lease always holds and a
 *   nudge is this hub's own next step; local-healing.ts steps it as the change feed shows the
 *   fleet move, and keeps what one hub saves (each agent's last process, the agents restored);
 * - a cluster's PgHealingStore (HubStore.healing, hub/pg/pg-healing-store.ts): the decider's
 *   lease row, and a nudge is a NOTIFY to every hub; hub/cluster/runtime.ts steps it from its
 *   sweep and hands it the nudges its bus hears (`nudged`).
 */
import type { Clock } from '../../shared/time.ts'
import type { Logger } from '../../shared/log.ts'
import type { AlertSender } from '../alerts/alerts.ts'
import type { ChangeFeed } from '../events/changes.ts'
import type { AgentRecord, Fleet } from '../agents/fleet.ts'
import { HealingDecider } from './healing-decider.ts'
import type { HealingAction } from './healing-history.ts'
import type { HealingView } from './healing-policy.ts'
import { policyView, type HealingSettings } from './healing-settings.ts'
import type { HealingStore, HealingStoreContext } from './healing-store.ts'
import type { Pm2Seen } from './healing-watch.ts'
import { HubHealing } from './hub-healing.ts'
import { LocalHealing, type HealingSaver } from './local-healing.ts'
import { MemoryHealingStore } from './memory-healing-store.ts'

/** The history GET /api/admin/healing shows (the contract's "at least the last 1000"). */
export const HEALING_HISTORY = 1000

export interface HealingRuntimeDeps {
  store: HealingStore
  fleet: Fleet
  changes: ChangeFeed
  log: Logger
  newId: () => string
  hubId: string
  settings: HealingSettings
  /** Where alerts go; null: they are only logged. */
  alerts: AlertSender | null
  /** Whether this hub holds the agent's socket (a cluster: its claim under a current lease). */
  holds(agentId: string): boolean
  /** After each step (one hub: the timer for what the passing of time alone lets start). */
  stepped?(): void
}

export class HealingRuntime {
  private readonly decider: HealingDecider
  private readonly perHub: HubHealing
  private stepping: Promise<void> | null = null
  private stepAgain = false
  private closed = false

  constructor(private readonly d: HealingRuntimeDeps) {
    const { store, log, newId, changes, settings, alerts } = d
    this.decider = new HealingDecider({ store, hubId: d.hubId, log, newId, changes, settings, alerts })
    this.perHub = new HubHealing({ store, nudge: () => this.nudge(), log, newId, changes, fleet: d.fleet, holds: d.holds, settings, alerts })
  }

  /** Whether this hub held the decider's lease at its last step (one hub: from its first step on). */
  get isDecider(): boolean {
    return this.decider.isDecider
  }

  /**
   * One decider step (taking or renewing its lease), then this hub's holds; steps never overlap,
   * a call during one runs one more after. Never rejects: a failure is logged.
   */
  step(): Promise<void> {
    if (this.closed) return Promise.resolve()
    if (this.stepping) {
      this.stepAgain = true
      return this.stepping
    }
    this.stepping = (async () => {
      try {
        do {
          this.stepAgain = false
          try {
            await this.decider.step()
            await this.perHub.syncHolds()
            this.d.stepped?.()
          } catch (err) {
            this.d.log.warn('healing step failed', { error: String(err) })
          }
        } while (this.stepAgain && !this.closed)
      } finally {
        this.stepping = null
      }
    })()
    return this.stepping
  }

  /** Asks the decider to look now: a cluster's store tells every hub; one hub steps itself. */
  nudge(): void {
    if (!this.d.store.wakeDecider) {
      void this.step()
      return
    }
    void this.d.store.wakeDecider().catch(() => undefined) // the decider's sweep looks anyway
  }

  /** A nudge heard from the cluster's bus: the decider's hub steps (another takes the lease at its sweep, not here). */
  nudged(): void {
    if (this.decider.isDecider) void this.step()
  }

  /** The agent identified here as `after`; `before`: the process the store last saw of it (see HubHealing.identified). */
  identified(agentId: string, before: Pm2Seen | null, after: Pm2Seen | null): Promise<void> {
    return this.perHub.identified(agentId, before, after)
  }

  /**
   * The hub gave up on a task of the agent (the task owner's backstop): its force restart,
   * reason `task_overdue`, is a healing restart within the budget; until the budget lets it
   * start the agent gets no new task.
   */
  taskOverdue(agentId: string, detail: string): void {
    this.perHub.taskOverdue(agentId, detail)
  }

  /** GET /api/admin/healing: read from the store, so in a cluster every hub answers alike. */
  async view(): Promise<HealingView> {
    const [paused, actions] = await Promise.all([this.d.store.paused(), this.d.store.actions(HEALING_HISTORY)])
    return { paused, policy: policyView(this.d.settings), actions }
  }

  /** No new healing action starts until resume(); restarts already commanded finish. */
  pause(): Promise<HealingView> {
    return this.setPaused(true)
  }

  async resume(): Promise<HealingView> {
    const view = await this.setPaused(false)
    // What waited for the resume may start now (a cluster's store nudges every hub in the resume's own transaction).
    if (!this.d.store.wakeDecider) void this.step()
    return view
  }

  /**
   * `POST .../resume` on one hub: the agent takes tasks again, and its quarantine, if any, is
   * lifted (at once; its events follow once saved). A cluster clears the agent's row, then lifts
   * (liftQuarantine).
   */
  resumeAgent(agentId: string): AgentRecord | undefined {
    const rec = this.d.fleet.resume(agentId)
    if (rec) void this.liftQuarantine(agentId).catch((err) => this.d.log.warn('could not lift a quarantine', { agent_id: agentId, error: String(err) }))
    return rec
  }

  /** An operator resumed the agent: its quarantine actions, if any, are lifted in the store, then on the events stream. */
  async liftQuarantine(agentId: string): Promise<void> {
    this.changed(await this.d.store.liftQuarantine(agentId))
  }

  /** Actions changed outside the decider (a quarantine lifted): on the events stream, and the decider looks. */
  changed(actionIds: string[]): void {
    for (const id of actionIds) this.d.changes.publish({ type: 'healing', action_id: id })
    if (actionIds.length > 0) this.nudge()
  }

  /** An action as the store has it now. */
  action(actionId: string): Promise<HealingAction | null> {
    return this.d.store.action(actionId)
  }

  /** A clean stop: the decider's lease goes now, so another hub decides from its next step. */
  release(): Promise<void> {
    return this.decider.release()
  }

  close(): void {
    this.closed = true
    this.perHub.close()
  }

  private async setPaused(paused: boolean): Promise<HealingView> {
    await this.d.store.setPaused(paused)
    this.d.log.info(paused ? 'healing paused' : 'healing resumed')
    return this.view()
  }
}

export interface HubHealingOptions extends Omit<HealingRuntimeDeps, 'store' | 'holds' | 'stepped'> {
  clock: Clock
  /** The hub's `store.healing` (HubOptions.store); unset: this hub's memory. */
  store?: (context: HealingStoreContext) => HealingStore
  /** Whether this hub holds the agent's socket; default: it is connected here (one hub). */
  holds?: (agentId: string) => boolean
  /** Delivers a restart the decider recorded for an agent on this hub (the hub's restart engine); never rejects. */
  deliverRestart(restartId: string): Promise<void>
  /** One hub: whether any rollout runs now (no healing restart starts meanwhile). A cluster's rows say. */
  rolloutRunning(): boolean
  /** One hub: how long the fleet keeps an offline agent (a restored agent it does not know is watched that long). */
  offlineTtlMs: number
  /** One hub: the data dir's saver (hub/store/fleet-saver.ts); null: nothing is saved. */
  saver(): HealingSaver | null
}

/** The runtime over the hub's store, and, over this hub's memory, its one-hub part (null over a given store). */
export function createHubHealing(o: HubHealingOptions): { runtime: HealingRuntime; local: LocalHealing | null } {
  const { store: openStore, holds, rolloutRunning, offlineTtlMs, saver, deliverRestart, clock, ...deps } = o
  const { fleet, settings } = o
  const memory = openStore ? null : new MemoryHealingStore({
    fleet, clock, settings, rolloutRunning,
    changed: (agentId) => (agentId === undefined ? saver()?.healingChanged() : saver()?.watchChanged(agentId)),
    durable: () => saver()?.durable() ?? Promise.resolve(),
  })
  const store = openStore?.({ settings, deliverRestart }) ?? memory!
  let local: LocalHealing | null = null
  const runtime = new HealingRuntime({
    ...deps, store, holds: holds ?? ((agentId) => fleet.get(agentId)?.peer != null), stepped: () => local?.armDue(),
  })
  if (memory) local = new LocalHealing(runtime, memory, { fleet, clock, changes: o.changes, offlineTtlMs, saver })
  return { runtime, local }
}
