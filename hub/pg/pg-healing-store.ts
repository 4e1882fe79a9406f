/**
 * The cluster's HealingStore (hub/healing/healing-store.ts) over the rows of healing-rows.ts.
 * It counts and records; HealingPolicy's rules judge. A decider step is one transaction under
 * the decider lease's row lock (`healing_state`, on database time, while this hub's own lease
 * holds), so steps never overlap, even across a handover: the budget is counted from
 * `healing_actions` and `restarts` in it, and a restart the decider starts is its restart row
 * (with a notification to the hub holding the agent) and its action, in that same transaction.
 * A restart for an agent on this hub is delivered once the step has committed.
 */
import { inTransaction, type Queryable, type Sql } from './connect.ts'
import { ALL_HUBS, type PgBus } from './notify-bus.ts'
import { commandRestartIn } from './restarts.ts'
import {
  budgetSnapshot, countCrashes, deleteHealingRequest, dropMemoryRequest, fileHealingRequest, followRestarts, getHealingAction,
  hasHealingRequest, hasHealingWork, healingPaused, insertHealingAction, liftQuarantine, listHealingActions, pruneCrashes,
  quarantineAgent, releaseDeciderLease, setHealingPaused, takeDeciderLease, waitingOverdue, type HealingRequestRow,
} from './healing-rows.ts'
import type { HealingAction } from '../healing/healing-history.ts'
import type { HealingRequest, HealingStep, HealingStore, HealingStoreContext, RequestRule } from '../healing/healing-store.ts'

/** Bus message to every hub: the decider should look now (a request filed, a quarantine lifted, a healing restart moved). */
export const HEALING_NUDGE = 'healing_step'

/** The cluster's rows and lease; the hub opening the store adds its settings and restart delivery (HealingStoreContext). */
export interface PgHealingStoreDeps extends HealingStoreContext {
  sql: Sql
  bus: PgBus
  /** This hub's own lease: it decides nothing while that may have run out. */
  lease: { readonly valid: boolean }
  hubId: string
  /** How long the decider holds its lease without a renewal. */
  leaseMs: number
}

export class PgHealingStore implements HealingStore {
  constructor(private readonly d: PgHealingStoreDeps) {}

  paused(): Promise<boolean> {
    return healingPaused(this.d.sql)
  }

  async setPaused(paused: boolean): Promise<void> {
    await inTransaction(this.d.sql, async (tx) => {
      await setHealingPaused(tx, paused)
      // Every hub reads the flag from the row; the decider looks at once after a resume.
      if (!paused) await this.d.bus.publish(ALL_HUBS, { kind: HEALING_NUDGE }, tx)
    })
  }

  actions(limit: number): Promise<HealingAction[]> {
    return listHealingActions(this.d.sql, limit)
  }

  action(actionId: string): Promise<HealingAction | null> {
    return getHealingAction(this.d.sql, actionId)
  }

  crashesSeen(agentId: string, restarts: number, actionId: string, judge: (crashes: number, paused: boolean) => boolean,
    detail: (crashes: number) => string): Promise<HealingAction | null> {
    return inTransaction(this.d.sql, async (tx) => {
      const counted = await countCrashes(tx, agentId, restarts, this.d.settings)
      if (!counted || !judge(counted.crashes, counted.paused)) return null
      await quarantineAgent(tx, agentId)
      return insertHealingAction(tx, this.d.hubId, {
        action_id: actionId, agent_id: agentId, rule: 'crash_loop', action: 'quarantine', detail: detail(counted.crashes), restart_id: null, state: 'quarantined',
      })
    })
  }

  fileRequest(agentId: string, rule: RequestRule, detail: string): Promise<boolean> {
    return fileHealingRequest(this.d.sql, this.d.hubId, agentId, rule, detail)
  }

  dropMemoryRequest(agentId: string): Promise<void> {
    return dropMemoryRequest(this.d.sql, agentId)
  }

  hasRequest(agentId: string): Promise<boolean> {
    return hasHealingRequest(this.d.sql, agentId)
  }

  hasWork(): Promise<boolean> {
    return hasHealingWork(this.d.sql)
  }

  liftQuarantine(agentId: string): Promise<string[]> {
    return inTransaction(this.d.sql, (tx) => liftQuarantine(tx, agentId))
  }

  waitingOverdue(): Promise<Set<string>> {
    return waitingOverdue(this.d.sql)
  }

  async decide<T>(fn: (step: HealingStep) => Promise<T>): Promise<{ result: T; previous: string | null } | null> {
    if (!this.d.lease.valid) return null
    const local: string[] = []
    const outcome = await inTransaction(this.d.sql, async (tx) => {
      const held = await takeDeciderLease(tx, this.d.hubId, this.d.leaseMs)
      if (!held) return null
      const moved = await followRestarts(tx)
      await pruneCrashes(tx, this.d.settings.windowS)
      const budget = await budgetSnapshot(tx, this.d.settings)
      const step: HealingStep = {
        paused: held.paused, moved, fleet: { inFlight: budget.in_flight, rolloutRunning: budget.rollout_running },
        requests: budget.requests.map(toRequest),
        startRestart: (req, cmd) => this.startRestart(tx, req, cmd, local),
        recordEscalation: (req, actionId, detail) => insertHealingAction(tx, this.d.hubId, {
          action_id: actionId, agent_id: req.agent_id, rule: req.rule, action: 'escalate', state: 'alerted', restart_id: null, detail,
        }),
        dropRequest: (agentId, rule) => rule === 'memory' ? dropMemoryRequest(tx, agentId) : deleteHealingRequest(tx, agentId),
      }
      return { result: await fn(step), previous: held.previous }
    })
    for (const restartId of local) await this.d.deliverRestart(restartId)
    return outcome
  }

  async releaseDecider(): Promise<void> {
    await releaseDeciderLease(this.d.sql, this.d.hubId)
  }

  async wakeDecider(): Promise<void> {
    await this.d.bus.publish(ALL_HUBS, { kind: HEALING_NUDGE })
  }

  private async startRestart(
    tx: Queryable, req: HealingRequest, cmd: { action_id: string; restart_id: string; mode: 'graceful' | 'force'; reason: string }, local: string[],
  ): Promise<HealingAction | null> {
    const { hubId } = this.d
    const result = await commandRestartIn(tx, req.agent_id, { restart_id: cmd.restart_id, reason: cmd.reason, mode: cmd.mode, deadline_s: null, rollout_id: null },
      async (inner, restart, holder) => {
        if (holder !== hubId) await this.d.bus.publish(holder, { kind: 'restart', agent_id: req.agent_id, restart_id: restart.restart_id }, inner)
      })
    if (!result.ok || result.already_pending) return null
    const action = await insertHealingAction(tx, hubId, {
      action_id: cmd.action_id, agent_id: req.agent_id, rule: req.rule, action: 'restart', detail: req.detail, restart_id: cmd.restart_id, state: result.restart.state,
    })
    await deleteHealingRequest(tx, req.agent_id)
    if (result.hub_id === hubId) local.push(cmd.restart_id)
    return action
  }
}

/** A request's row as the rules read it: the agent's budget apart. */
function toRequest(row: HealingRequestRow): HealingRequest {
  const { inFlight, recentRestarts, cooling, escalatedInWindow, ...request } = row
  return { ...request, budget: { inFlight, recentRestarts, cooling, escalatedInWindow } }
}
