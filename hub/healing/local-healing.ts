/**
 * One hub's part of healing, beside the runtime (healing-runtime.ts) over its MemoryHealingStore:
 * what a cluster learns from its rows, its NOTIFY and its sweep (an identify's last process, a
 * restart moving on, a rollout, the agent forgotten, the passing of time) this hub takes from its
 * change feed and a timer, and steps its own decider on. It also keeps, for a hub restart, each
 * agent's last process and crashes: an agent restored from a save that the fleet does not know
 * is watched for its return as long as the fleet keeps an offline agent.
 */
import type { Clock } from '../../shared/time.ts'
import type { ChangeFeed } from '../events/changes.ts'
import type { AgentRecord, Fleet } from '../agents/fleet.ts'
import type { HealingAction } from './healing-history.ts'
import type { SavedHealing } from './healing-policy.ts'
import type { HealingRuntime } from './healing-runtime.ts'
import type { OneHubHealingPart } from './memory-healing-store.ts'
import type { HealingStore } from './healing-store.ts'
import { restartsSeen, type SavedWatch } from './healing-watch.ts'

/** The data dir's saver (hub/store/fleet-saver.ts), as healing tells it what changed. */
export interface HealingSaver {
  healingChanged(): void
  watchChanged(agentId: string): void
  durable(): Promise<void>
}

export interface LocalHealingOptions {
  fleet: Fleet
  clock: Clock
  changes: ChangeFeed
  /** How long the fleet keeps an offline agent: a restored agent it does not know is watched that long for its return. */
  offlineTtlMs: number
  /** Null without a store (nothing is saved, every change is durable at once). */
  saver(): HealingSaver | null
}

export class LocalHealing {
  /** When a waiting overdue restart may start by the passing of time alone (a cooldown, a window). */
  private dueTimer: ReturnType<typeof setTimeout> | null = null
  private closed = false
  /** Agents restored from a save that have not come back since, and until when they are watched. */
  private readonly dormant = new Map<string, number>()
  private dormantTimer: ReturnType<typeof setTimeout> | null = null
  private readonly unsubscribe: Array<() => void>

  constructor(private readonly runtime: HealingRuntime, private readonly store: HealingStore & OneHubHealingPart, private readonly o: LocalHealingOptions) {
    const { fleet, changes } = o
    this.unsubscribe = [
      changes.on('agent', (change) => {
        const agentId = change.agent_id
        const rec = fleet.get(agentId)
        if (!rec) return this.forget(agentId)
        // Back since the hub restart: the fleet keeps it now, and healing as long as the fleet does.
        if (this.dormant.delete(agentId)) o.saver()?.watchChanged(agentId)
        if (change.identified) this.identified(rec, change.identified.restart_pending)
        // A restart moved on: a healing one's action follows it, and what waited for it may start.
        if (change.restart_id !== undefined) this.stepIfWork()
      }),
      // A rollout started or ended: no healing restart starts while one runs.
      changes.on('rollout', () => this.stepIfWork()),
    ]
  }

  private stepIfWork(): void {
    void this.store.hasWork().then((work) => {
      if (work) void this.runtime.step()
    })
  }

  /**
   * The agent identified. The store compares it with its last process (and keeps this one):
   * a new process is checked for a crash loop, unless the hub had commanded its restart.
   */
  private identified(rec: AgentRecord, restartPending: boolean): void {
    const after = rec.pm2_info && { restart_count: rec.pm2_info.restart_count, pid: rec.pm2_info.pid }
    const before = this.store.processSeen(rec.agent_id, after, restartPending)
    if (restartsSeen(before, after) > 0) void this.runtime.identified(rec.agent_id, before, after).then(() => this.stepIfWork())
    // The same process back online: a restart waiting for it may start now.
    else {
      void this.store.hasRequest(rec.agent_id).then((waiting) => {
        if (waiting) void this.runtime.step()
      })
    }
  }

  private forget(agentId: string): void {
    this.dormant.delete(agentId)
    this.store.forget(agentId)
    void this.runtime.step()
  }

  /** After each step: the timer for what time alone lets start. */
  armDue(): void {
    if (this.dueTimer) clearTimeout(this.dueTimer)
    this.dueTimer = null
    const due = this.store.nextDueAt()
    if (due === null || this.closed) return
    this.dueTimer = setTimeout(() => {
      this.dueTimer = null
      void this.runtime.step()
    }, Math.max(0, due - this.o.clock.now()))
  }

  /** The `HealingAction` a `healing` change names, now, while the history holds it (for LiveEvents). */
  action(actionId: string): HealingAction | undefined {
    return this.store.peek(actionId)
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
      if (!this.o.fleet.get(watch.agent_id)) {
        const keepUntil = watch.keep_until ?? now + this.o.offlineTtlMs
        if (keepUntil <= now) continue
        this.dormant.set(watch.agent_id, keepUntil)
      }
      agents.push(watch)
    }
    this.armDormant()
    this.store.restore({ ...saved, agents })
    void this.runtime.step()
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
        if (!this.o.fleet.get(agentId)) this.store.forget(agentId)
        this.o.saver()?.watchChanged(agentId)
      }
      this.armDormant()
    }, delay)
  }

  close(): void {
    this.closed = true
    for (const off of this.unsubscribe) off()
    if (this.dormantTimer) clearTimeout(this.dormantTimer)
    this.dormantTimer = null
    if (this.dueTimer) clearTimeout(this.dueTimer)
    this.dueTimer = null
  }
}
