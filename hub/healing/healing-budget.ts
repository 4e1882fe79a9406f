/**
 * One hub's counts of what healing may still do (the MemoryHealingStore's): per agent, its crashes and healing restarts
 * within the window, its cooldown and its last escalation; fleet-wide, the restarts in flight and
 * whether a rollout runs. It counts, it does not decide: the rules (healing-rules.ts) judge its
 * `agentBudget`/`fleetBudget`, as they judge a cluster's counted in SQL. Timestamps outside the
 * window are pruned on every look, so nothing here grows.
 */
import type { Clock } from '../../shared/time.ts'
import { SECOND } from '../../shared/time.ts'
import type { HealingAction } from './healing-history.ts'
import type { HealingSettings } from './healing-settings.ts'
import type { AgentBudget, FleetBudget } from './healing-rules.ts'

interface AgentLedger {
  /** When each unplanned restart was seen, within the window, at most crashLimit of them. */
  crashes: number[]
  /** When each healing restart was commanded, within the window. */
  restarts: number[]
  /** When the agent's last healing restart ended (completed or failed): the cooldown starts there. */
  lastRestartEndedAt: number | null
  lastEscalatedAt: number | null
  /** The agent's healing restart not yet over. */
  inFlight: HealingAction | null
}


export class HealingBudget {
  private readonly ledgers = new Map<string, AgentLedger>()
  /** The healing restarts in flight, by action_id; at most one per agent. */
  private readonly inFlightById = new Map<string, HealingAction>()
  private rolloutRunning = false

  constructor(
    private readonly settings: HealingSettings,
    private readonly clock: Clock,
    /** Whether any restart is pending for the agent (an operator's, a rollout's). */
    private readonly restartPending: (agentId: string) => boolean = () => false,
  ) {}

  private get windowMs(): number {
    return this.settings.windowS * SECOND
  }

  private ledger(agentId: string): AgentLedger {
    let ledger = this.ledgers.get(agentId)
    if (!ledger) {
      ledger = { crashes: [], restarts: [], lastRestartEndedAt: null, lastEscalatedAt: null, inFlight: null }
      this.ledgers.set(agentId, ledger)
    }
    this.prune(ledger)
    return ledger
  }

  private prune(ledger: AgentLedger): void {
    const since = this.clock.now() - this.windowMs
    while (ledger.crashes.length > 0 && ledger.crashes[0] <= since) ledger.crashes.shift()
    while (ledger.restarts.length > 0 && ledger.restarts[0] <= since) ledger.restarts.shift()
  }

  /** Counts `count` unplanned restarts now; returns how many the window holds. */
  addCrashes(agentId: string, count: number): number {
    const ledger = this.ledger(agentId)
    const now = this.clock.now()
    for (let i = 0; i < count; i++) ledger.crashes.push(now)
    // Reaching the limit quarantines, so more than the limit never changes a decision.
    if (ledger.crashes.length > this.settings.crashLimit) ledger.crashes.splice(0, ledger.crashes.length - this.settings.crashLimit)
    return ledger.crashes.length
  }

  /** The times of the agent's crashes within the window, oldest first (for a save). */
  crashTimes(agentId: string): readonly number[] {
    const ledger = this.ledgers.get(agentId)
    if (!ledger) return []
    this.prune(ledger)
    return ledger.crashes
  }

  /** One hub, at start: the crashes a previous hub saved; those outside the window are pruned. */
  restoreCrashes(agentId: string, times: readonly number[]): void {
    const ledger = this.ledger(agentId)
    ledger.crashes = [...times].sort((a, b) => a - b).slice(-this.settings.crashLimit)
    this.prune(ledger)
  }

  clearCrashes(agentId: string): void {
    this.ledger(agentId).crashes.length = 0
  }

  setRolloutRunning(running: boolean): void {
    this.rolloutRunning = running
  }

  /** The agent's part of the budget, counted from its ledger (healing-rules.ts decides with it). */
  agentBudget(agentId: string): AgentBudget {
    const ledger = this.ledger(agentId)
    const now = this.clock.now()
    return {
      // A restart already pending brings a new process anyway (a cluster counts it so too).
      inFlight: ledger.inFlight !== null || this.restartPending(agentId),
      recentRestarts: ledger.restarts.length,
      cooling: ledger.lastRestartEndedAt !== null && now - ledger.lastRestartEndedAt < this.settings.cooldownS * SECOND,
      escalatedInWindow: ledger.lastEscalatedAt !== null && now - ledger.lastEscalatedAt < this.windowMs,
    }
  }

  fleetBudget(): FleetBudget {
    return { inFlight: this.inFlightById.size, rolloutRunning: this.rolloutRunning }
  }

  /** The agent was escalated now: the rules escalate it again only once the window has passed. */
  escalated(agentId: string): void {
    this.ledger(agentId).lastEscalatedAt = this.clock.now()
  }

  started(agentId: string, action: HealingAction): void {
    const ledger = this.ledger(agentId)
    ledger.inFlight = action
    ledger.restarts.push(this.clock.now())
    this.inFlightById.set(action.action_id, action)
  }

  /** The agent's healing restart ended (completed or failed) at `at`: its cooldown starts there. */
  finished(agentId: string, at: number): void {
    const ledger = this.ledgers.get(agentId)
    if (!ledger?.inFlight) return
    this.inFlightById.delete(ledger.inFlight.action_id)
    ledger.inFlight = null
    ledger.lastRestartEndedAt = at
  }

  /** The earliest time the agent's cooldown or per-agent limit lets a restart start, if later than now. */
  nextFreeAt(agentId: string): number | null {
    const ledger = this.ledger(agentId)
    const now = this.clock.now()
    let at: number | null = null
    const later = (t: number) => {
      if (t > now && (at === null || t > at)) at = t
    }
    if (ledger.lastRestartEndedAt !== null) later(ledger.lastRestartEndedAt + this.settings.cooldownS * SECOND)
    const excess = ledger.restarts.length - this.settings.maxPerAgent
    // Pruning drops a timestamp once it is a full window old (`<= now - window`).
    if (excess >= 0) later(ledger.restarts[excess] + this.windowMs)
    return at
  }

  forget(agentId: string): void {
    const ledger = this.ledgers.get(agentId)
    if (ledger?.inFlight) this.inFlightById.delete(ledger.inFlight.action_id)
    this.ledgers.delete(agentId)
  }

  /**
   * One hub, at start: the budget a previous hub had, from its saved history (oldest first), as a
   * cluster counts it from its rows. Each commanded healing restart within the window counts for
   * its agent, the end of its last one starts its cooldown, its last escalation holds for the
   * window; one that was never commanded (no restart_id) gave its place back. Returns the restarts
   * that were in flight, now in flight here: the caller makes them follow their restarts.
   */
  restoreFrom(history: readonly HealingAction[]): HealingAction[] {
    const inFlight: HealingAction[] = []
    for (const action of history) {
      const ledger = this.ledger(action.agent_id)
      if (action.action === 'escalate') ledger.lastEscalatedAt = Math.max(ledger.lastEscalatedAt ?? 0, action.at)
      if (action.action !== 'restart' || action.restart_id === null) continue
      if (action.at > this.clock.now() - this.windowMs) ledger.restarts.push(action.at)
      if (action.state === 'commanded' || action.state === 'deferred' || action.state === 'restarting') {
        if (ledger.inFlight) continue // at most one per agent; the older one's restart is long over
        ledger.inFlight = action
        this.inFlightById.set(action.action_id, action)
        inFlight.push(action)
      } else {
        ledger.lastRestartEndedAt = Math.max(ledger.lastRestartEndedAt ?? 0, action.updated_at)
      }
    }
    return inFlight
  }

  /** The healing restart in flight with this action_id, if any. */
  inFlight(actionId: string): HealingAction | null {
    return this.inFlightById.get(actionId) ?? null
  }
}
