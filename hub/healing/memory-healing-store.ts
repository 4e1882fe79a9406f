/**
 * One hub's HealingStore (healing-store.ts): healing's history, paused flag, crash counts and
 * budget in memory, saved to the data dir through the fleet state saver (hub/store/fleet-saver.ts),
 * restarts commanded through the Fleet. It counts and records, as hub/pg/pg-healing-store.ts
 * does over rows; the decider (healing-decider.ts) and the crash-loop check judge with
 * HealingPolicy's rules (healing-rules.ts). The decider's lease always holds here (one hub), and
 * a step resolves once its changes are saved. The requests waiting for the budget are not saved,
 * as one hub never saved its waiting overdue restarts: the task they came from is run again anyway.
 * Past the HealingStore's operations, its one-hub part (OneHubHealingPart) serves local-healing.ts.
 */
import type { Clock } from '../../shared/time.ts'
import { isPending } from '../agents/restart.ts'
import type { Fleet } from '../agents/fleet.ts'
import { HealingBudget } from './healing-budget.ts'
import { HealingHistory, type HealingAction } from './healing-history.ts'
import type { HealingSettings } from './healing-settings.ts'
import type { HealingRequest, HealingStep, HealingStore, RequestRule } from './healing-store.ts'
import type { SavedHealing } from './healing-policy.ts'
import { toSavedWatch, type Pm2Seen, type SavedWatch } from './healing-watch.ts'

export interface MemoryHealingStoreOptions {
  fleet: Pick<Fleet, 'get' | 'commandRestart' | 'quarantine'>
  clock: Clock
  settings: HealingSettings
  /** Whether any rollout runs now: no healing restart starts meanwhile. */
  rolloutRunning(): boolean
  /** What is saved of healing changed: its history or flag (no agent), or what it keeps of the agent. */
  changed(agentId?: string): void
  /** Resolves once every change so far is saved; rejects when that save failed. */
  durable(): Promise<void>
  /** History kept, newest first (default and minimum 1000). */
  historyLimit?: number
}

/**
 * One hub's own part of its healing store, past the HealingStore's operations: what a cluster
 * keeps in rows elsewhere (the agent's last process in `agents.pm2_info`, read at the claim; the
 * agent forgotten with its row) or does not need (its sweep steps every second; its events read
 * actions from rows), and what one hub saves in its data dir. local-healing.ts uses it.
 */
export interface OneHubHealingPart {
  peek(actionId: string): HealingAction | undefined
  processSeen(agentId: string, after: Pm2Seen | null, restartPending: boolean): Pm2Seen | null
  nextDueAt(): number | null
  forget(agentId: string): void
  saved(): SavedHealing
  savedWatch(agentId: string): Omit<SavedWatch, 'keep_until'> | null
  restore(saved: SavedHealing): void
}

interface WaitingRequest {
  rule: RequestRule
  detail: string
  since: number
}

export class MemoryHealingStore implements HealingStore, OneHubHealingPart {
  private readonly history: HealingHistory
  private readonly budget: HealingBudget
  private isPaused = false
  /** One request per agent, as `healing_requests` keeps them. */
  private readonly requests = new Map<string, WaitingRequest>()
  /** Healing restart actions whose restart is not over, by restart_id. */
  private readonly inFlight = new Map<string, HealingAction>()
  /** The pm2 restart count and pid of each agent's last identify (a cluster's `agents.pm2_info`). */
  private readonly lastSeen = new Map<string, Pm2Seen>()
  /** Agents whose last identify settled a restart the hub had commanded (processSeen). */
  private readonly restartAtIdentify = new Set<string>()

  /** Changes told to the saver so far: a decider step that made none resolves without waiting for a save. */
  private touches = 0

  constructor(private readonly o: MemoryHealingStoreOptions) {
    this.history = new HealingHistory({ clock: o.clock, newId: () => crypto.randomUUID(), limit: o.historyLimit ?? 1000 })
    this.budget = new HealingBudget(o.settings, o.clock, (agentId) => isPending(o.fleet.get(agentId)?.restart ?? null))
  }

  private touch(agentId?: string): void {
    this.touches++
    this.o.changed(agentId)
  }

  async paused(): Promise<boolean> {
    return this.isPaused
  }

  async setPaused(paused: boolean): Promise<void> {
    this.isPaused = paused
    this.touch()
    await this.o.durable()
  }

  async actions(limit: number): Promise<HealingAction[]> {
    return this.history.list().slice(0, limit)
  }

  async action(actionId: string): Promise<HealingAction | null> {
    return this.history.get(actionId) ?? null
  }

  /** Lifted at the call (an operator's resume answers in the same turn); resolves once saved. */
  async liftQuarantine(agentId: string): Promise<string[]> {
    const lifted: string[] = []
    for (const action of this.history.oldestFirst()) {
      if (action.agent_id !== agentId || action.action !== 'quarantine' || action.state !== 'quarantined') continue
      this.history.setState(action, 'lifted')
      lifted.push(action.action_id)
    }
    if (lifted.length === 0) return lifted
    this.budget.clearCrashes(agentId)
    this.touch()
    this.touch(agentId)
    await this.o.durable()
    return lifted
  }

  async crashesSeen(agentId: string, restarts: number, actionId: string, judge: (crashes: number, paused: boolean) => boolean,
    detail: (crashes: number) => string): Promise<HealingAction | null> {
    this.requests.delete(agentId)
    const rec = this.o.fleet.get(agentId)
    // A restart pending at the identify (processSeen) is the one this process came back from,
    // not a crash: a cluster asks before identify settles it (presence.ts), one hub after.
    const commanded = this.restartAtIdentify.delete(agentId) || isPending(rec?.restart ?? null)
    if (!rec || rec.quarantined || commanded) return null
    const crashes = this.budget.addCrashes(agentId, restarts)
    this.touch(agentId)
    if (!judge(crashes, this.isPaused)) {
      await this.o.durable()
      return null
    }
    this.o.fleet.quarantine(agentId)
    this.budget.clearCrashes(agentId)
    const action = this.history.record({ action_id: actionId, agent_id: agentId, rule: 'crash_loop', action: 'quarantine', detail: detail(crashes), state: 'quarantined' })
    this.touch()
    await this.o.durable()
    return action
  }

  async fileRequest(agentId: string, rule: RequestRule, detail: string): Promise<boolean> {
    const waiting = this.requests.get(agentId)
    // One per agent: an overdue task's force restart replaces a memory one (it covers it), never the other way.
    if (waiting && !(waiting.rule === 'memory' && rule === 'task_overdue')) return false
    this.requests.set(agentId, { rule, detail, since: this.o.clock.now() })
    return true
  }

  async hasWork(): Promise<boolean> {
    return this.requests.size > 0 || this.inFlight.size > 0
  }

  async hasRequest(agentId: string): Promise<boolean> {
    return this.requests.has(agentId)
  }

  async dropMemoryRequest(agentId: string): Promise<void> {
    if (this.requests.get(agentId)?.rule === 'memory') this.requests.delete(agentId)
  }

  async waitingOverdue(): Promise<Set<string>> {
    const waiting = new Set<string>()
    for (const [agentId, req] of this.requests) if (req.rule === 'task_overdue') waiting.add(agentId)
    for (const action of this.inFlight.values()) if (action.rule === 'task_overdue') waiting.add(action.agent_id)
    return waiting
  }

  async decide<T>(fn: (step: HealingStep) => Promise<T>): Promise<{ result: T; previous: string | null } | null> {
    const touchesBefore = this.touches
    this.budget.setRolloutRunning(this.o.rolloutRunning())
    const step: HealingStep = {
      paused: this.isPaused,
      moved: this.followRestarts(),
      fleet: this.budget.fleetBudget(),
      requests: this.waitingRequests(),
      startRestart: async (req, cmd) => this.startRestart(req, cmd),
      recordEscalation: async (req, actionId, detail) => {
        this.budget.escalated(req.agent_id)
        this.touch()
        return this.history.record({ action_id: actionId, agent_id: req.agent_id, rule: req.rule, action: 'escalate', detail, state: 'alerted' })
      },
      dropRequest: async (agentId, rule) => {
        if (rule === undefined || this.requests.get(agentId)?.rule === rule) this.requests.delete(agentId)
      },
    }
    const result = await fn(step)
    if (this.touches !== touchesBefore) await this.o.durable()
    return { result, previous: null }
  }

  async releaseDecider(): Promise<void> {}

  // One hub's own part (OneHubHealingPart), not the HealingStore's.

  /** The action as the events stream shows it, now (LiveEvents reads it as the change is published). */
  peek(actionId: string): HealingAction | undefined {
    return this.history.get(actionId)
  }

  /**
   * The agent identifying now as `after`: returns the process it was before (null the first time)
   * and keeps `after` as the next one's baseline. `restartPending`: the hub had a restart pending
   * for it, which this identify settled, so the crashesSeen that follows counts no crash.
   */
  processSeen(agentId: string, after: Pm2Seen | null, restartPending: boolean): Pm2Seen | null {
    const before = this.lastSeen.get(agentId) ?? null
    if (restartPending) this.restartAtIdentify.add(agentId)
    else this.restartAtIdentify.delete(agentId)
    if (after) this.lastSeen.set(agentId, { restart_count: after.restart_count, pid: after.pid })
    else this.lastSeen.delete(agentId)
    if (before?.restart_count !== after?.restart_count || before?.pid !== after?.pid) this.touch(agentId)
    return before
  }

  /** When a waiting overdue restart may next start by the passing of time alone; null if none (the decider's timer on one hub). */
  nextDueAt(): number | null {
    if (this.isPaused) return null
    let due: number | null = null
    for (const [agentId, req] of this.requests) {
      if (req.rule !== 'task_overdue' || this.o.fleet.get(agentId)?.quarantined) continue
      const at = this.budget.nextFreeAt(agentId)
      if (at !== null && (due === null || at < due)) due = at
    }
    return due
  }

  /** The fleet forgot the agent: so does healing (its restart in flight, if any, fails at the next step). */
  forget(agentId: string): void {
    this.requests.delete(agentId)
    this.restartAtIdentify.delete(agentId)
    this.budget.forget(agentId)
    if (this.lastSeen.delete(agentId)) this.touch(agentId)
  }

  /** What the fleet state saver saves: the flag and the history, oldest first. */
  saved(): SavedHealing {
    return { paused: this.isPaused, actions: this.history.oldestFirst() }
  }

  /** What it saves of the agent: its last process and crashes within the window; null: nothing. */
  savedWatch(agentId: string): Omit<SavedWatch, 'keep_until'> | null {
    return toSavedWatch(agentId, this.lastSeen.get(agentId), this.budget.crashTimes(agentId))
  }

  /**
   * At start, after the fleet's agents: what a previous hub saved. Its healing restarts in flight
   * follow their restarts as the fleet restored them from the next decider step (one the fleet
   * no longer holds fails then).
   */
  restore(saved: SavedHealing): void {
    this.isPaused = saved.paused
    this.history.restore(saved.actions)
    for (const watch of saved.agents ?? []) {
      if (watch.restart_count !== null) this.lastSeen.set(watch.agent_id, { restart_count: watch.restart_count, pid: watch.pid })
      if (watch.crashes.length > 0) this.budget.restoreCrashes(watch.agent_id, watch.crashes)
    }
    for (const action of this.budget.restoreFrom(this.history.oldestFirst())) this.inFlight.set(action.restart_id!, action)
  }

  /** Healing restart actions move on with their restarts (a failed one says why). */
  private followRestarts(): HealingAction[] {
    const moved: HealingAction[] = []
    for (const [restartId, action] of this.inFlight) {
      const rec = this.o.fleet.get(action.agent_id)
      const restart = rec?.restart?.restart_id === restartId ? rec.restart : null
      const state = restart ? restart.state : 'failed'
      if (state === action.state) continue
      if (state === 'completed' || state === 'failed') {
        // Forgotten: the fleet forgot it and forget() dropped its budget. Not in the fleet but still
        // counted: a hub restart restored the action but not its restart (lost with the previous hub).
        const forgotten = !rec && this.budget.inFlight(action.action_id) === null
        const why = forgotten ? 'agent forgotten' : restart ? `restart failed${restart.error ? `: ${restart.error}` : ''}` : 'restart failed: lost with the previous hub'
        // Dated by the restart's change, as a cluster's rows are, not by the step that read it.
        if (state === 'failed') this.history.setState(action, 'failed', `${action.detail}; ${why}`, restart?.updated_at)
        else this.history.setState(action, 'completed', undefined, restart?.updated_at)
        this.inFlight.delete(restartId)
        if (!forgotten) this.budget.finished(action.agent_id, restart?.updated_at ?? this.o.clock.now())
      } else {
        this.history.setState(action, state, undefined, restart?.updated_at)
      }
      moved.push(this.history.get(action.action_id) ?? { ...action })
    }
    if (moved.length > 0) this.touch()
    return moved
  }

  /** The requests with the agent as it is now: overdue restarts first, then the oldest. */
  private waitingRequests(): HealingRequest[] {
    const out: Array<HealingRequest & { since: number }> = []
    for (const [agentId, req] of this.requests) {
      const rec = this.o.fleet.get(agentId)
      out.push({
        agent_id: agentId, rule: req.rule, detail: req.detail, since: req.since,
        live: rec?.peer != null, supervised: rec?.supervised ?? false, quarantined: rec?.quarantined ?? false,
        budget: this.budget.agentBudget(agentId),
      })
    }
    out.sort((a, b) => Number(b.rule === 'task_overdue') - Number(a.rule === 'task_overdue') || a.since - b.since || (a.agent_id < b.agent_id ? -1 : 1))
    return out.map(({ since: _since, ...request }) => request) // a request as a cluster's rows give it
  }

  private startRestart(req: HealingRequest, cmd: { action_id: string; restart_id: string; mode: 'graceful' | 'force'; reason: string }): HealingAction | null {
    const result = this.o.fleet.commandRestart(req.agent_id, { reason: cmd.reason, mode: cmd.mode, deadline_s: null, restart_id: cmd.restart_id })
    if (!result.ok || result.already_pending) return null
    const action = this.history.record({ action_id: cmd.action_id, agent_id: req.agent_id, rule: req.rule, action: 'restart', detail: req.detail, state: 'commanded' })
    this.history.attachRestart(action, cmd.restart_id, result.restart.state)
    this.budget.started(req.agent_id, action)
    this.inFlight.set(cmd.restart_id, action)
    this.requests.delete(req.agent_id)
    this.touch()
    return this.history.get(action.action_id) ?? action
  }
}
