/**
 * Healing's one decider for the whole fleet, over a HealingStore (healing-store.ts). The hub
 * holding the store's decider lease is the only one that starts healing restarts; every hub
 * steps, so when the decider's hub dies another takes over within the lease. A step moves
 * healing restart actions on with their restarts, then judges each request the holding hubs
 * filed (an overdue task's force restart, memory above the limit) with HealingPolicy's rules
 * (healing-rules.ts) over the budget the store counted: at most AGENTCOM_HEAL_MAX_CONCURRENT in
 * flight in the fleet, none while a rollout runs, the cooldown and the per-agent limit, past
 * which `heal_escalated` once per window. What it decides the store records in the step.
 */
import type { Logger } from '../../shared/log.ts'
import type { AlertSender } from '../alerts/alerts.ts'
import type { ChangeFeed } from '../events/changes.ts'
import type { HealingAction } from './healing-history.ts'
import type { HealingAlertType } from './healing-policy.ts'
import type { HealingSettings } from './healing-settings.ts'
import { healingDetail, restartOf, restartVerdict } from './healing-rules.ts'
import type { HealingRequest, HealingStep, HealingStore } from './healing-store.ts'

export interface HealingDeciderDeps {
  store: HealingStore
  hubId: string
  log: Logger
  newId: () => string
  changes: ChangeFeed
  settings: HealingSettings
  alerts: AlertSender | null
}

interface StepOutcome {
  actions: HealingAction[]
  alerts: { type: HealingAlertType; action: HealingAction }[]
}

export class HealingDecider {
  /** Whether this hub held the lease at its last step. */
  isDecider = false
  private stepping: Promise<void> | null = null
  private stepAgain = false

  constructor(private readonly d: HealingDeciderDeps) {}

  /** One step (the sweep's, or a nudge's); steps here never overlap, a call during one runs one more after. */
  step(): Promise<void> {
    if (this.stepping) {
      this.stepAgain = true
      return this.stepping
    }
    this.stepping = (async () => {
      // `stepping` is set before the first step runs: a store that answers at once (one hub's)
      // commands a restart synchronously, whose change may ask for a step from inside this one.
      await Promise.resolve()
      try {
        do {
          this.stepAgain = false
          await this.once().catch((err) => this.d.log.warn('healing decider step failed', { error: String(err) }))
        } while (this.stepAgain)
      } finally {
        this.stepping = null
      }
    })()
    return this.stepping
  }

  /** A clean stop: the lease goes now, so another hub decides from its next step. */
  async release(): Promise<void> {
    await this.stepping
    if (!this.isDecider) return
    this.isDecider = false
    await this.d.store.releaseDecider()
  }

  private async once(): Promise<void> {
    const { log, hubId } = this.d
    const decided = await this.d.store.decide((step) => this.decide(step))
    const wasDecider = this.isDecider
    this.isDecider = decided !== null
    if (!decided) return
    if (!wasDecider) log.info('healing decider', { hub_id: hubId, previous: decided.previous })
    for (const action of decided.result.actions) this.d.changes.publish({ type: 'healing', action_id: action.action_id })
    for (const { type, action } of decided.result.alerts) {
      log.warn('healing alert', { type, agent_id: action.agent_id, rule: action.rule, detail: action.detail })
      this.d.alerts?.send({ type, agent_id: action.agent_id, rule: action.rule, detail: action.detail, at: action.updated_at })
    }
  }

  private async decide(step: HealingStep): Promise<StepOutcome> {
    const out: StepOutcome = { actions: [], alerts: [] }
    for (const action of step.moved) {
      out.actions.push(action)
      if (action.state === 'failed') out.alerts.push({ type: 'heal_failed', action })
    }
    let inFlight = step.fleet.inFlight
    for (const req of step.requests) {
      if (!step.paused && await this.tryStart(step, req, inFlight, out)) inFlight++
      // A memory restart refused (by the budget, a pause, anything) does not wait in line
      // (docs/healing.md): the agent's next report above the limit files it again.
      else if (req.rule === 'memory') await step.dropRequest(req.agent_id, 'memory')
    }
    return out
  }

  /** Starts the request's restart if the rules allow (true); escalates past the per-agent limit. */
  private async tryStart(step: HealingStep, req: HealingRequest, inFlight: number, out: StepOutcome): Promise<boolean> {
    const s = this.d.settings
    // pm2 cannot restart it: nothing to wait for.
    if (!req.supervised) {
      await step.dropRequest(req.agent_id)
      return false
    }
    // Offline or quarantined: an overdue restart waits for it (a memory one is dropped).
    if (!req.live || req.quarantined) return false
    const { verdict } = restartVerdict(s, req.budget, { ...step.fleet, inFlight })
    if (verdict === 'escalate') {
      const action = await step.recordEscalation(req, this.d.newId(), healingDetail.escalate(s, req.rule, req.detail))
      out.actions.push(action)
      out.alerts.push({ type: 'heal_escalated', action })
    }
    if (verdict !== 'start') return false
    const action = await step.startRestart(req, { action_id: this.d.newId(), restart_id: this.d.newId(), ...restartOf(req.rule) })
    if (!action) return false
    this.d.log.info('healing restart', { agent_id: req.agent_id, rule: req.rule, action_id: action.action_id, restart_id: action.restart_id })
    out.actions.push(action)
    return true
  }
}
