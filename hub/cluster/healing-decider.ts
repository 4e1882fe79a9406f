/**
 * Healing's one decider for the whole fleet. The hub holding the decider lease (`healing_state`,
 * on database time, renewed at each of its sweeps) is the only one that starts healing
 * restarts. Every hub's sweep tries to take the lease, so when the decider's hub dies another
 * takes over within the lease. A step is one transaction under the lease row's lock: it moves
 * healing restart actions on with their restarts, then starts what the requests the holding hubs
 * filed (an overdue task's force restart, memory above the limit) may start within the budget,
 * counted from the rows (hub/pg/healing-decider.ts): at most AGENTCOM_HEAL_MAX_CONCURRENT in
 * flight in the fleet, none while a rollout runs, the cooldown and the per-agent limit, past
 * which `heal_escalated` once per window. A restart is commanded as the admin route does (a row,
 * and NOTIFY to the hub holding the agent), in the same transaction as its action.
 */
import type { Logger } from '../../shared/log.ts'
import type { AlertSender } from '../alerts/alerts.ts'
import type { ChangeFeed } from '../events/changes.ts'
import type { HealingAction } from '../healing/healing-history.ts'
import type { HealingAlertType } from '../healing/healing-output.ts'
import type { HealingSettings } from '../healing/healing-settings.ts'
import { inTransaction, type Queryable, type Sql } from '../pg/connect.ts'
import type { PgBus } from '../pg/bus.ts'
import { commandRestartIn } from '../pg/restarts.ts'
import { dropMemoryRequest, insertHealingAction } from '../pg/healing.ts'
import { budgetSnapshot, deleteHealingRequest, type HealingRequestRow, followRestarts, pruneCrashes, releaseDeciderLease, takeDeciderLease } from '../pg/healing-decider.ts'
import type { HubLease } from './lease.ts'

/** Bus message to every hub: the decider should look now (a request filed, a quarantine lifted, a healing restart moved). */
export const HEALING_NUDGE = 'healing_step'

export interface HealingDeciderDeps {
  sql: Sql
  bus: PgBus
  lease: HubLease
  hubId: string
  leaseMs: number
  log: Logger
  newId: () => string
  changes: ChangeFeed
  settings: HealingSettings
  alerts: AlertSender | null
  /** Delivers a restart commanded for an agent this hub holds (no round trip through the bus). */
  deliverRestart(restartId: string): Promise<void>
}

interface StepOutcome {
  actions: HealingAction[]
  alerts: { type: HealingAlertType; action: HealingAction }[]
  localRestarts: string[]
  previous: string | null
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

  /** A clean stop: the lease goes now, so another hub decides from its next sweep. */
  async release(): Promise<void> {
    await this.stepping
    if (!this.isDecider) return
    this.isDecider = false
    await releaseDeciderLease(this.d.sql, this.d.hubId)
  }

  private async once(): Promise<void> {
    const { log, hubId } = this.d
    if (!this.d.lease.valid) {
      this.isDecider = false
      return
    }
    const outcome = await inTransaction(this.d.sql, (tx) => this.decide(tx)) as StepOutcome | null
    const wasDecider = this.isDecider
    this.isDecider = outcome !== null
    if (!outcome) return
    if (!wasDecider) log.info('healing decider', { hub_id: hubId, previous: outcome.previous })
    for (const action of outcome.actions) this.d.changes.publish({ type: 'healing', action_id: action.action_id })
    for (const { type, action } of outcome.alerts) {
      log.warn('healing alert', { type, agent_id: action.agent_id, rule: action.rule, detail: action.detail })
      this.d.alerts?.send({ type, agent_id: action.agent_id, rule: action.rule, detail: action.detail, at: action.updated_at })
    }
    for (const restartId of outcome.localRestarts) {
      await this.d.deliverRestart(restartId).catch((err) => log.warn('restart delivery failed', { restart_id: restartId, error: String(err) }))
    }
  }

  private async decide(tx: Queryable): Promise<StepOutcome | null> {
    const { settings: s, hubId } = this.d
    const held = await takeDeciderLease(tx, hubId, this.d.leaseMs)
    if (!held) return null
    const out: StepOutcome = { actions: [], alerts: [], localRestarts: [], previous: held.previous }
    for (const action of await followRestarts(tx)) {
      out.actions.push(action)
      if (action.state === 'failed') out.alerts.push({ type: 'heal_failed', action })
    }
    await pruneCrashes(tx, s.windowS)
    const budget = await budgetSnapshot(tx, s)
    let inFlight = budget.in_flight
    for (const req of budget.requests) {
      if (!held.paused && await this.tryStart(tx, req, budget.rollout_running, inFlight, out)) inFlight++
      // A memory restart refused (by the budget, a pause, anything) does not wait in line, as on
      // one hub (docs/healing.md): the agent's next report above the limit files it again.
      else if (req.rule === 'memory') await dropMemoryRequest(tx, req.agent_id)
    }
    return out
  }

  /** Starts the request's restart if the budget allows (true), escalates past the per-agent limit. */
  private async tryStart(tx: Queryable, req: HealingRequestRow, rolloutRunning: boolean, inFlight: number, out: StepOutcome): Promise<boolean> {
    const { settings: s, hubId } = this.d
    // pm2 cannot restart it: nothing to wait for.
    if (req.live && !req.supervised) {
      await deleteHealingRequest(tx, req.agent_id)
      return false
    }
    if (!req.live || req.quarantined || req.restart_pending) return false
    if (req.recent >= s.maxPerAgent) {
      if (req.escalated) return false
      const action = await insertHealingAction(tx, hubId, {
        action_id: this.d.newId(), agent_id: req.agent_id, rule: req.rule, action: 'escalate', state: 'alerted', restart_id: null,
        detail: `${s.maxPerAgent} healing restarts within ${s.windowS} s; ${req.rule} wants another: ${req.detail}`,
      })
      out.actions.push(action)
      out.alerts.push({ type: 'heal_escalated', action })
      return false
    }
    if (req.cooling || rolloutRunning || inFlight >= s.maxConcurrent) return false
    const memory = req.rule === 'memory'
    const restartId = this.d.newId()
    const result = await commandRestartIn(tx, req.agent_id, {
      restart_id: restartId, reason: memory ? 'heal:memory' : 'task_overdue', mode: memory ? 'graceful' : 'force', deadline_s: null, rollout_id: null,
    }, async (inner, restart, holder) => {
      if (holder !== hubId) await this.d.bus.publish(holder, { kind: 'restart', agent_id: req.agent_id, restart_id: restart.restart_id }, inner)
    })
    if (!result.ok || result.already_pending) return false
    out.actions.push(await insertHealingAction(tx, hubId, {
      action_id: this.d.newId(), agent_id: req.agent_id, rule: req.rule, action: 'restart', detail: req.detail,
      restart_id: restartId, state: result.restart.state,
    }))
    await deleteHealingRequest(tx, req.agent_id)
    if (result.hub_id === hubId) out.localRestarts.push(restartId)
    return true
  }
}
