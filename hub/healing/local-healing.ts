/**
 * WIP (heal2-wip): one hub's healing as the cluster's: the decider (healing-decider.ts) over the
 * MemoryHealingStore, and the per-hub part (hub/cluster/cluster-healing.ts) over a bus that
 * calls itself. Stands in for Healing (healing.ts) in createHub when there is no cluster.
 */
import type { Clock } from '../../shared/time.ts'
import type { Logger } from '../../shared/log.ts'
import type { AlertSender } from '../alerts/alerts.ts'
import type { ChangeFeed } from '../events/changes.ts'
import type { AgentRecord, Fleet } from '../agents/fleet.ts'
import { isPending } from '../agents/restart.ts'
import { ClusterHealing } from '../cluster/cluster-healing.ts'
import type { BusHandler, BusMessage, PgBus } from '../pg/notify-bus.ts'
import { HEALING_NUDGE } from '../pg/pg-healing-store.ts'
import { HealingDecider } from './healing-decider.ts'
import type { HealingAction, HealingView, SavedHealing } from './healing-policy.ts'
import { resolveHealingSettings, type HealingSettings } from './healing-settings.ts'
import { MemoryHealingStore } from './memory-healing-store.ts'
import type { SavedWatch } from './healing-watch.ts'

export interface LocalHealingOptions {
  clock: Clock
  log: Logger
  newId: () => string
  changes: ChangeFeed
  settings?: Partial<HealingSettings>
  alerts: AlertSender | null
  hubId: string
  rolloutRunning(): boolean
  /** How long the fleet keeps an offline agent: a restored agent it does not know is watched that long for its return. */
  offlineTtlMs: number
  saver(): { healingChanged(): void; watchChanged(agentId: string): void; durable(): Promise<void> } | null
}

export class LocalHealing {
  readonly settings: HealingSettings
  private readonly store: MemoryHealingStore
  private readonly decider: HealingDecider
  private readonly perHub: ClusterHealing
  private readonly handlers = new Set<BusHandler>()
  private dueTimer: ReturnType<typeof setTimeout> | null = null
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
    // The bus calls itself: a nudge is this hub's next decider step.
    const bus = {
      publish: async (_to: string, message: BusMessage) => {
        for (const h of this.handlers) h(message, o.hubId)
        if (message.kind === HEALING_NUDGE) this.step()
      },
      subscribe: (handler: BusHandler) => {
        this.handlers.add(handler)
        return () => this.handlers.delete(handler)
      },
    } as unknown as PgBus
    this.perHub = new ClusterHealing({
      store: this.store, bus, log: o.log, newId: o.newId, changes: o.changes, fleet,
      holds: (agentId) => fleet.get(agentId)?.peer != null, settings: this.settings, alerts: o.alerts,
    })
    this.unsubscribe = [
      o.changes.on('agent', (change) => {
        const rec = fleet.get(change.agent_id)
        if (!rec) {
          this.dormant.delete(change.agent_id)
          this.store.forget(change.agent_id)
          return this.step()
        }
        // Back since the hub restart: the fleet keeps it now, and healing as long as the fleet does.
        if (this.dormant.delete(change.agent_id)) o.saver()?.watchChanged(change.agent_id)
        if (change.identified) {
          const before = this.store.processSeen(change.agent_id, rec.pm2_info && { restart_count: rec.pm2_info.restart_count, pid: rec.pm2_info.pid })
          // The fleet has settled a commanded restart by now: the process it brought is no crash.
          if (!change.identified.restart_pending) void this.perHub.identified(change.agent_id, before, rec.pm2_info)
          else this.step()
        }
        if (change.restart_id !== undefined && !isPending(rec.restart)) this.step()
        else if (change.restart_id !== undefined) this.step()
      }),
      o.changes.on('rollout', () => this.step()),
    ]
  }

  /** One decider step, then the holds, then the timer for what time alone lets start. */
  step(): void {
    void this.decider.step().then(() => this.perHub.syncHolds()).then(() => this.armDue())
      .catch((err) => this.o.log.warn('healing step failed', { error: String(err) }))
  }

  private armDue(): void {
    if (this.dueTimer) clearTimeout(this.dueTimer)
    this.dueTimer = null
    const due = this.store.nextDueAt()
    if (due === null) return
    this.dueTimer = setTimeout(() => {
      this.dueTimer = null
      this.step()
    }, Math.max(0, due - this.o.clock.now()))
  }

  view(): Promise<HealingView> {
    return this.perHub.view()
  }

  async pause(): Promise<HealingView> {
    const view = await this.perHub.pause()
    this.o.log.info('healing paused')
    return view
  }

  async resume(): Promise<HealingView> {
    this.o.log.info('healing resumed')
    const view = await this.perHub.resume()
    this.step()
    return view
  }

  action(actionId: string): HealingAction | undefined {
    return this.store.peek(actionId)
  }

  resumeAgent(agentId: string): AgentRecord | undefined {
    const rec = this.fleet.resume(agentId)
    if (rec) this.perHub.changed(this.store.liftQuarantine(agentId).map((a) => a.action_id))
    return rec
  }

  taskOverdue(agentId: string, detail: string): void {
    this.perHub.taskOverdue(agentId, detail)
  }

  saved(): SavedHealing {
    return this.store.saved()
  }

  savedWatch(agentId: string): SavedWatch | null {
    const watch = this.store.savedWatch(agentId)
    return watch && { ...watch, keep_until: this.dormant.get(agentId) ?? null }
  }

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
    if (this.dormantTimer) clearTimeout(this.dormantTimer)
    for (const off of this.unsubscribe) off()
    this.perHub.close()
    if (this.dueTimer) clearTimeout(this.dueTimer)
    this.o.alerts?.close()
  }
}
