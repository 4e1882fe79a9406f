/**
 * The hub's healing decisions, as a pure module: the fleet's events and a clock go in, the
 * decisions to carry out, the alerts to send and the history's changes come out. It sends,
 * commands and drains nothing itself, so every rule and every limit is testable on fake time.
 * Each rule's judgement is a function of counts (healing-rules.ts), judged alike over this hub's
 * ledgers and over a cluster's rows (hub/pg/pg-healing-store.ts).
 *
 * Rules (CONTRACT.md "Healing"):
 * - crash loop: `crashLimit` unplanned restarts within the window quarantine the agent; healing
 *   then leaves it alone until an operator resumes it.
 * - memory (only with `maxMemoryMb`): the last two stats reports above it: graceful restart,
 *   reason `heal:memory`.
 * - task overdue: the force restart of Durability, reason `task_overdue`.
 *
 * How `task_overdue` meets the budget. The overdue task itself is run again by the task module at
 * once; the budget never touches it. The agent's force restart is a healing restart like any
 * other, so it counts in flight, for the per-agent limit and for the cooldown, and the contract's
 * promise that the fleet is never healed faster than the budget holds for it too. But it is never
 * dropped: an overdue restart the budget refuses now waits, one per agent, and starts as soon as
 * the budget allows (when a restart ends, a rollout ends, healing or the agent is resumed, or at
 * `nextDueAt()`), before any memory restart. So a stuck agent is always restarted, at worst
 * after the cooldown, the window or an operator's pause; past its per-agent limit it is escalated
 * once per window meanwhile. While its restart waits the caller should give it no task
 * (`isWaitingForRestart`); a new process (it restarted anyway) ends the wait.
 */
import type { Clock } from '../../shared/time.ts'
import { HealingBudget } from './healing-budget.ts'
import { HealingHistory, type HealingAction, type HealingActionState } from './healing-history.ts'
import { OutputCollector, type HealingAlert, type HealingAlertType, type HealingOutput } from './healing-output.ts'
import { resolveHealingSettings, type HealingSettings } from './healing-settings.ts'
import { healingDetail, isCrashLoop, memoryAboveAfter, restartOf, restartVerdict } from './healing-rules.ts'
import { newWatch, restartsSeen, toSavedWatch, type AgentProcess, type AgentWatch, type SavedWatch } from './healing-watch.ts'

export type { HealingAction, HealingActionState } from './healing-history.ts'
export type { HealingAlert, HealingAlertType, HealingDecision, HealingOutput } from './healing-output.ts'
export type { AgentProcess, SavedWatch } from './healing-watch.ts'

/** The body of `GET /api/admin/healing`. */
export interface HealingView {
  paused: boolean
  policy: { crash_limit: number; window_s: number; max_memory_mb: number | null; max_concurrent: number; cooldown_s: number; max_per_agent: number }
  actions: HealingAction[]
}

export interface SavedHealing {
  paused: boolean
  actions: readonly HealingAction[]
  agents?: readonly SavedWatch[]
}

export interface HealingPolicyOptions {
  clock: Clock
  newId: () => string
  settings?: Partial<HealingSettings>
  /** History kept, newest first (default and minimum 1000). */
  historyLimit?: number
  /** Whether any restart is pending for the agent (an operator's, a rollout's): it counts as in flight. */
  restartPending?: (agentId: string) => boolean
}

export class HealingPolicy {
  readonly settings: HealingSettings
  private readonly clock: Clock
  private readonly budget: HealingBudget
  private readonly history: HealingHistory
  private readonly agents = new Map<string, AgentWatch>()
  /**
   * The agents among `agents` whose overdue restart waits (`overdue` set): what tick, release
   * and nextDueAt look at, after every identify of a fleet, without walking the whole fleet.
   */
  private readonly waiting = new Map<string, AgentWatch>()
  private paused = false

  constructor(opts: HealingPolicyOptions) {
    this.settings = resolveHealingSettings(opts.settings)
    this.clock = opts.clock
    this.budget = new HealingBudget(this.settings, opts.clock, opts.restartPending)
    this.history = new HealingHistory({ clock: opts.clock, newId: opts.newId, limit: opts.historyLimit ?? 1000 })
  }

  private watch(agentId: string): AgentWatch {
    let watch = this.agents.get(agentId)
    if (!watch) {
      watch = newWatch()
      this.agents.set(agentId, watch)
    }
    return watch
  }

  /**
   * The agent identified. A higher pm2 restart count or a new pid with no restart commanded is
   * unplanned; pm2 restarts the hub never saw (the process died before it identified) count too.
   */
  agentIdentified(agentId: string, proc: AgentProcess): HealingOutput {
    const out = new OutputCollector()
    const watch = this.watch(agentId)
    const before = watch.restartCount === null ? null : { restart_count: watch.restartCount, pid: watch.pid }
    const after = proc.pm2
    watch.supervised = proc.supervised
    watch.restartCount = after ? after.restart_count : null
    watch.pid = after ? after.pid : null
    const restarts = restartsSeen(before, after)
    if (restarts === 0) return out.result()
    watch.memoryAbove = 0
    this.setOverdue(agentId, watch, null)
    if (proc.restartCommanded || watch.quarantine) return out.result()
    const crashes = this.budget.addCrashes(agentId, restarts)
    if (isCrashLoop(this.settings, crashes, this.paused)) this.quarantine(agentId, watch, crashes, out)
    return out.result()
  }

  private quarantine(agentId: string, watch: AgentWatch, crashes: number, out: OutputCollector): void {
    const detail = healingDetail.crashLoop(this.settings, crashes)
    const action = this.history.record({ agent_id: agentId, rule: 'crash_loop', action: 'quarantine', detail, state: 'quarantined' })
    watch.quarantine = action
    this.budget.clearCrashes(agentId)
    out.decisions.push({ action: 'quarantine', action_id: action.action_id, agent_id: agentId, rule: 'crash_loop' })
    out.alerts.push(this.alert('agent_quarantined', action))
    out.changed.add(action)
  }

  statsReported(agentId: string, rssBytes: number): HealingOutput {
    const out = new OutputCollector()
    if (this.settings.maxMemoryMb === null) return out.result()
    const watch = this.watch(agentId)
    watch.memoryAbove = memoryAboveAfter(this.settings, watch.memoryAbove, rssBytes)
    // A waiting overdue restart is a force restart: it covers this one.
    if (watch.memoryAbove < 2 || watch.overdue) return out.result()
    const detail = healingDetail.memory(this.settings, rssBytes)
    if (this.tryRestart(agentId, watch, 'memory', detail, out)) watch.memoryAbove = 0
    return out.result()
  }

  /** The hub gave up on the agent's task (Durability); `detail` says which task. */
  taskOverdue(agentId: string, detail: string): HealingOutput {
    const out = new OutputCollector()
    const watch = this.watch(agentId)
    if (!watch.supervised) return out.result() // pm2 cannot restart it: nothing to wait for
    if (!watch.overdue) this.setOverdue(agentId, watch, { since: this.clock.now(), detail })
    this.releaseWaiting(out)
    return out.result()
  }

  /** Starts the agent's restart if the budget allows; past the per-agent limit, escalates instead. */
  private tryRestart(agentId: string, watch: AgentWatch, rule: 'memory' | 'task_overdue', detail: string, out: OutputCollector): boolean {
    if (this.paused || watch.quarantine || !watch.supervised) return false
    const { verdict } = restartVerdict(this.settings, this.budget.agentBudget(agentId), this.budget.fleetBudget())
    if (verdict === 'escalate') {
      this.budget.escalated(agentId)
      const why = healingDetail.escalate(this.settings, rule, detail)
      const action = this.history.record({ agent_id: agentId, rule, action: 'escalate', detail: why, state: 'alerted' })
      out.decisions.push({ action: 'escalate', action_id: action.action_id, agent_id: agentId, rule })
      out.alerts.push(this.alert('heal_escalated', action))
      out.changed.add(action)
    }
    if (verdict !== 'start') return false
    const action = this.history.record({ agent_id: agentId, rule, action: 'restart', detail, state: 'commanded' })
    this.budget.started(agentId, action)
    out.decisions.push({ action: 'restart', action_id: action.action_id, agent_id: agentId, rule, ...restartOf(rule) })
    out.changed.add(action)
    return true
  }

  /** Overdue restarts waiting for the budget start, oldest first, as far as it allows. */
  private releaseWaiting(out: OutputCollector): void {
    if (this.waiting.size === 0) return
    const waiting = [...this.waiting].sort(([, a], [, b]) => a.overdue!.since - b.overdue!.since)
    for (const [agentId, watch] of waiting) {
      if (this.tryRestart(agentId, watch, 'task_overdue', watch.overdue!.detail, out)) this.setOverdue(agentId, watch, null)
    }
  }

  private setOverdue(agentId: string, watch: AgentWatch, overdue: AgentWatch['overdue']): void {
    watch.overdue = overdue
    if (overdue) this.waiting.set(agentId, watch)
    else this.waiting.delete(agentId)
  }

  /** The fleet commanded the restart of a `restart` decision; `state` is the restart's state now. */
  restartCommanded(actionId: string, restartId: string, state: HealingActionState): HealingOutput {
    const out = new OutputCollector()
    const found = this.budget.inFlight(actionId)
    if (!found) return out.result()
    this.history.attachRestart(found, restartId, state)
    out.changed.add(found)
    if (state === 'completed' || state === 'failed') this.restartOver(found, state, null, out)
    return out.result()
  }

  /** The fleet could not command it (agent gone, not supervised): the budget is given back. */
  restartNotCommanded(actionId: string, error: string): HealingOutput {
    const out = new OutputCollector()
    const found = this.budget.inFlight(actionId)
    if (!found) return out.result()
    this.history.setState(found, 'failed', `${found.detail}; not commanded: ${error}`)
    out.changed.add(found)
    this.budget.finished(found.agent_id, false)
    this.releaseWaiting(out)
    return out.result()
  }

  /** Any restart changed state; only healing ones matter here. A failed one alerts `heal_failed`. */
  restartChanged(restartId: string, state: HealingActionState, error: string | null = null): HealingOutput {
    const out = new OutputCollector()
    const action = this.history.byRestartId(restartId)
    if (!action || action.state === state) return out.result()
    if (state === 'completed' || state === 'failed') this.restartOver(action, state, error, out)
    else this.history.setState(action, state)
    out.changed.add(action)
    return out.result()
  }

  private restartOver(action: HealingAction, state: 'completed' | 'failed', error: string | null, out: OutputCollector): void {
    if (state === 'failed') this.history.setState(action, 'failed', `${action.detail}; restart failed${error ? `: ${error}` : ''}`)
    else this.history.setState(action, 'completed')
    if (state === 'failed') out.alerts.push(this.alert('heal_failed', action))
    this.budget.finished(action.agent_id, true)
    this.releaseWaiting(out)
  }

  setRolloutRunning(running: boolean): HealingOutput {
    const out = new OutputCollector()
    this.budget.setRolloutRunning(running)
    if (!running) this.releaseWaiting(out)
    return out.result()
  }

  pause(): HealingOutput {
    this.paused = true
    return new OutputCollector().result()
  }

  resume(): HealingOutput {
    const out = new OutputCollector()
    this.paused = false
    this.releaseWaiting(out)
    return out.result()
  }

  /** An operator resumed the agent: its quarantine, if any, is lifted and its crash count starts over. */
  agentResumed(agentId: string): HealingOutput {
    const out = new OutputCollector()
    const watch = this.agents.get(agentId)
    if (!watch?.quarantine) return out.result()
    this.history.setState(watch.quarantine, 'lifted')
    out.changed.add(watch.quarantine)
    watch.quarantine = null
    this.budget.clearCrashes(agentId)
    this.releaseWaiting(out)
    return out.result()
  }

  /** The fleet forgot the agent: so does healing. A restart still in flight is recorded failed. */
  forgetAgent(agentId: string): HealingOutput {
    const out = new OutputCollector()
    if (!this.agents.has(agentId)) return out.result()
    const inFlight = this.budget.ledger(agentId).inFlight
    if (inFlight) {
      this.history.setState(inFlight, 'failed', `${inFlight.detail}; agent forgotten`)
      out.changed.add(inFlight)
    }
    this.budget.forget(agentId)
    this.agents.delete(agentId)
    this.waiting.delete(agentId)
    this.releaseWaiting(out)
    return out.result()
  }

  /** Starts what time alone now allows (cooldowns and windows that ran out). Call at `nextDueAt()`. */
  tick(): HealingOutput {
    const out = new OutputCollector()
    this.releaseWaiting(out)
    return out.result()
  }

  /** When a waiting overdue restart may next start by the passing of time alone; null if none. */
  nextDueAt(): number | null {
    if (this.paused) return null
    let due: number | null = null
    for (const [agentId, watch] of this.waiting) {
      if (watch.quarantine) continue
      const at = this.budget.nextFreeAt(agentId)
      if (at !== null && (due === null || at < due)) due = at
    }
    return due
  }

  /**
   * One hub, at start: what a previous hub saved (hub/store/). A quarantined agent stays so until
   * an operator resumes it; an agent's next identify is compared with its last process, and its
   * crashes within the window still count. Returns the healing restarts that were in flight:
   * each should follow its restart as the fleet restored it.
   */
  restore(saved: SavedHealing): HealingAction[] {
    this.paused = saved.paused
    this.history.restore(saved.actions)
    for (const s of saved.agents ?? []) {
      Object.assign(this.watch(s.agent_id), { restartCount: s.restart_count, pid: s.pid })
      if (s.crashes.length > 0) this.budget.restoreCrashes(s.agent_id, s.crashes)
    }
    for (const action of this.history.oldestFirst()) {
      if (action.action === 'quarantine' && action.state === 'quarantined') this.watch(action.agent_id).quarantine = action
    }
    // The budget too, so a hub restart frees no agent from its limit (the restarts in flight: the caller's).
    return this.budget.restoreFrom(this.history.oldestFirst())
  }

  /** What a single hub saves: the paused flag and the history, oldest first (each agent's watch: savedWatch). */
  saved(): SavedHealing {
    return { paused: this.paused, actions: this.history.oldestFirst() }
  }

  /** One hub: what it saves of the agent's last process and crash window (null: nothing to keep). */
  savedWatch(agentId: string): Omit<SavedWatch, 'keep_until'> | null {
    return toSavedWatch(agentId, this.agents.get(agentId), this.budget.crashTimes(agentId))
  }

  /** One action of the history, as `view()` shows it; undefined once it has left the history. */
  action(actionId: string): HealingAction | undefined {
    return this.history.get(actionId)
  }

  isQuarantined(agentId: string): boolean {
    return this.agents.get(agentId)?.quarantine != null
  }

  /** An overdue restart waits for the budget: the agent should get no task meanwhile. */
  isWaitingForRestart(agentId: string): boolean {
    return this.agents.get(agentId)?.overdue != null
  }

  get isPaused(): boolean {
    return this.paused
  }

  view(): HealingView {
    const s = this.settings
    return {
      paused: this.paused,
      policy: { crash_limit: s.crashLimit, window_s: s.windowS, max_memory_mb: s.maxMemoryMb, max_concurrent: s.maxConcurrent, cooldown_s: s.cooldownS, max_per_agent: s.maxPerAgent },
      actions: this.history.list(),
    }
  }

  /** Raised by the action's latest change, so `at` is that change's time to the millisecond. */
  private alert(type: HealingAlertType, action: HealingAction): HealingAlert {
    return { type, agent_id: action.agent_id, rule: action.rule, detail: action.detail, at: action.updated_at }
  }
}
