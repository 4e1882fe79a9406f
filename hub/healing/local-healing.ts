/**
 * One hub's healing: the same engine as a cluster's, over the MemoryHealingStore saved in the
 * data dir. The one decider (healing-decider.ts) judges with HealingPolicy's rules; healing's
 * part on each hub (hub-healing.ts) files what this hub sees. Here the decider's lease always
 * holds and a nudge is this hub's own next step; what a cluster learns from its rows and NOTIFY
 * (an identify, a restart moving on, a rollout, the agent forgotten) this hub takes from its
 * change feed. It also keeps, for a hub restart, each agent's last process and crashes: an agent
 * restored from a save that the fleet does not know is watched for its return as long as the
 * fleet keeps an offline agent.
 */
import type { Clock } from '../../shared/time.ts'
import type { Logger } from '../../shared/log.ts'
import type { AlertSender } from '../alerts/alerts.ts'
import type { ChangeFeed } from '../events/changes.ts'
import type { AgentRecord, Fleet } from '../agents/fleet.ts'
import { HealingDecider } from './healing-decider.ts'
import type { HealingAction } from './healing-history.ts'
import type { HealingView, SavedHealing } from './healing-policy.ts'
import { resolveHealingSettings, type HealingSettings } from './healing-settings.ts'
import { HubHealing } from './hub-healing.ts'
import { MemoryHealingStore } from './memory-healing-store.ts'
import { restartsSeen, type SavedWatch } from './healing-watch.ts'

export interface LocalHealingOptions {
  clock: Clock
  log: Logger
  newId: () => string
  changes: ChangeFeed
  settings?: Partial<HealingSettings>
  /** Where alerts go; null: they are only logged. */
  alerts: AlertSender | null
  hubId: string
  /** Whether any rollout runs now: no healing restart starts meanwhile. */
  rolloutRunning(): boolean
  /** How long the fleet keeps an offline agent: a restored agent it does not know is watched that long for its return. */
  offlineTtlMs: number
  /** The data dir's saver (hub/store/fleet-saver.ts); null without a store (nothing is saved, every change is durable at once). */
  saver(): { healingChanged(): void; watchChanged(agentId: string): void; durable(): Promise<void> } | null
}

export class LocalHealing {
  readonly settings: HealingSettings
  private readonly store: MemoryHealingStore
  private readonly decider: HealingDecider
  private readonly perHub: HubHealing
  /** When a waiting overdue restart may start by the passing of time alone (a cooldown, a window). */
  private dueTimer: ReturnType<typeof setTimeout> | null = null
  private stepping = false
  private stepAgain = false
  private closed = false
  /** Agents restored from a save that have not come back since, and until when they are watched. */
  private readonly dormant = new Map<string, number>()
  private dormantTimer: ReturnType<typeof setTimeout> | null = null
  private readonly unsubscribe: Array<() => void>

  constructor(private readonly fleet: Fleet, private readonly o: LocalHealingOptions) {
    this.settings = resolveHealingSettings(o.settings)
    this.store = new MemoryHealingStore({
      fleet, clock: o.clock, settings: this.settings, rolloutRunning: o.rolloutRunning,
      changed: (agentId) => (agentId === undefined ? o.saver()?.healingChanged() : o.saver()?.watchChanged(agentId)),
      durable: () => o.saver()?.durable() ?? Promise.resolve(),
    })
    this.decider = new HealingDecider({ store: this.store, hubId: o.hubId, log: o.log, newId: o.newId, changes: o.changes, settings: this.settings, alerts: o.alerts })
    this.perHub = new HubHealing({
      store: this.store, nudge: () => this.step(), log: o.log, newId: o.newId, changes: o.changes, fleet,
      holds: (agentId) => fleet.get(agentId)?.peer != null, settings: this.settings, alerts: o.alerts,
    })
    this.unsubscribe = [
      o.changes.on('agent', (change) => {
        const agentId = change.agent_id
        const rec = fleet.get(agentId)
        if (!rec) return this.forget(agentId)
        // Back since the hub restart: the fleet keeps it now, and healing as long as the fleet does.
        if (this.dormant.delete(agentId)) o.saver()?.watchChanged(agentId)
        if (change.identified) this.identified(rec, change.identified.restart_pending)
        // A restart moved on: a healing one's action follows it, and what waited for it may start.
        if (change.restart_id !== undefined && this.store.hasWork()) this.step()
      }),
      // A rollout started or ended: no healing restart starts while one runs.
      o.changes.on('rollout', () => {
        if (this.store.hasWork()) this.step()
      }),
    ]
  }

  /** One decider step, then the holds, then the timer for what time alone lets start; asked again meanwhile, once more after. */
  private step(): void {
    if (this.closed) return
    if (this.stepping) {
      this.stepAgain = true
      return
    }
    this.stepping = true
    void (async () => {
      do {
        this.stepAgain = false
        try {
          await this.decider.step()
          await this.perHub.syncHolds()
          this.armDue()
        } catch (err) {
          this.o.log.warn('healing step failed', { error: String(err) })
        }
      } while (this.stepAgain && !this.closed)
      this.stepping = false
    })()
  }

  /**
   * The agent identified. The store compares it with its last process (and keeps this one):
   * a new process is checked for a crash loop, unless the hub had commanded its restart.
   */
  private identified(rec: AgentRecord, restartPending: boolean): void {
    const after = rec.pm2_info && { restart_count: rec.pm2_info.restart_count, pid: rec.pm2_info.pid }
    const before = this.store.processSeen(rec.agent_id, after, restartPending)
    if (restartsSeen(before, after) > 0) {
      void this.perHub.identified(rec.agent_id, before, after).then(() => {
        if (this.store.hasWork()) this.step()
      })
    }
    // The same process back online: a restart waiting for it may start now.
    else if (this.store.hasRequest(rec.agent_id)) this.step()
  }

  private forget(agentId: string): void {
    this.dormant.delete(agentId)
    this.store.forget(agentId)
    this.step()
  }

  private armDue(): void {
    if (this.dueTimer) clearTimeout(this.dueTimer)
    this.dueTimer = null
    const due = this.store.nextDueAt()
    if (due === null || this.closed) return
    this.dueTimer = setTimeout(() => {
      this.dueTimer = null
      this.step()
    }, Math.max(0, due - this.o.clock.now()))
  }

  view(): Promise<HealingView> {
    return this.perHub.view()
  }

  /** No new healing action starts until resume(); restarts already commanded finish. */
  pause(): Promise<HealingView> {
    return this.perHub.pause()
  }

  async resume(): Promise<HealingView> {
    const view = await this.perHub.resume()
    this.step() // what waited for the resume may start now (a cluster's store nudges the decider itself)
    return view
  }

  /** The `HealingAction` a `healing` change names, now, while the history holds it. */
  action(actionId: string): HealingAction | undefined {
    return this.store.peek(actionId)
  }

  /** `POST .../resume`: the agent takes tasks again, and its quarantine, if any, is lifted. */
  resumeAgent(agentId: string): AgentRecord | undefined {
    const rec = this.fleet.resume(agentId)
    if (rec) this.perHub.changed(this.store.liftQuarantine(agentId).map((a) => a.action_id))
    return rec
  }

  /**
   * The hub gave up on a task of the agent (the task board's backstop): its force restart,
   * reason `task_overdue`, is a healing restart within the budget; until the budget lets it
   * start the agent gets no new task.
   */
  taskOverdue(agentId: string, detail: string): void {
    this.perHub.taskOverdue(agentId, detail)
  }

  /** What the fleet state saver saves: the flag and the history. */
  saved(): SavedHealing {
    return this.store.saved()
  }

  /** What it saves of the agent's last process and crash window; null: nothing. */
  savedWatch(agentId: string): SavedWatch | null {
    const watch = this.store.savedWatch(agentId)
    return watch && { ...watch, keep_until: this.dormant.get(agentId) ?? null }
  }

  /** At start, after the fleet's agents: what a previous hub saved. Healing restarts in flight follow their restarts from the first step. */
  restore(saved: SavedHealing): void {
    const now = this.o.clock.now()
    const agents: SavedWatch[] = []
    for (const watch of saved.agents ?? []) {
      // One the fleet restored is forgotten with it; any other, if it is not back in time.
      if (!this.fleet.get(watch.agent_id)) {
        const keepUntil = watch.keep_until ?? now + this.o.offlineTtlMs
        if (keepUntil <= now) continue
        this.dormant.set(watch.agent_id, keepUntil)
      }
      agents.push(watch)
    }
    this.armDormant()
    this.store.restore({ ...saved, agents })
    this.step()
  }

  /** Forgets, when their time is up, the restored agents that did not come back. */
  private armDormant(): void {
    if (this.dormantTimer) clearTimeout(this.dormantTimer)
    this.dormantTimer = null
    let due: number | null = null
    for (const until of this.dormant.values()) if (due === null || until < due) due = until
    if (due === null) return
    // A timer's longest delay is about 24.8 days; a longer wait is armed again when it fires.
    const delay = Math.min(Math.max(0, due - this.o.clock.now()), 2 ** 31 - 1)
    this.dormantTimer = setTimeout(() => {
      this.dormantTimer = null
      const now = this.o.clock.now()
      for (const [agentId, until] of this.dormant) {
        if (until > now) continue
        this.dormant.delete(agentId)
        if (!this.fleet.get(agentId)) this.store.forget(agentId)
        this.o.saver()?.watchChanged(agentId)
      }
      this.armDormant()
    }, delay)
  }

  close(): void {
    this.closed = true
    for (const off of this.unsubscribe) off()
    this.perHub.close()
    if (this.dormantTimer) clearTimeout(this.dormantTimer)
    this.dormantTimer = null
    if (this.dueTimer) clearTimeout(this.dueTimer)
    this.dueTimer = null
  }
}
