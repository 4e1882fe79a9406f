/**
 * What one call of the healing policy asks of its caller: decisions to carry out, alerts to
 * send, and the history records it created or changed (for `event: healing`).
 */
import type { RestartMode } from '../../shared/protocol.ts'
import type { HealingAction, HealingRule } from './healing-history.ts'

export type HealingDecision =
  | { action: 'restart'; action_id: string; agent_id: string; rule: 'memory' | 'task_overdue'; mode: RestartMode; reason: 'heal:memory' | 'task_overdue' }
  /** Drain the agent; `isQuarantined` already says true. */
  | { action: 'quarantine'; action_id: string; agent_id: string; rule: 'crash_loop' }
  /** Nothing to carry out beyond its alert; listed so the caller can log it. */
  | { action: 'escalate'; action_id: string; agent_id: string; rule: HealingRule }

export type HealingAlertType = 'agent_quarantined' | 'heal_escalated' | 'heal_failed'

/** The body POSTed to AGENTCOM_ALERT_WEBHOOK_URL. */
export interface HealingAlert {
  type: HealingAlertType
  agent_id: string
  rule: HealingRule
  detail: string
  at: number
}

/** What one call asks of the caller; `actions` are the history records it created or changed. */
export interface HealingOutput {
  decisions: HealingDecision[]
  alerts: HealingAlert[]
  actions: HealingAction[]
}

/** Collects one call's output; changed actions are copied once, at the end. */
export class OutputCollector {
  readonly decisions: HealingDecision[] = []
  readonly alerts: HealingAlert[] = []
  readonly changed = new Set<HealingAction>()

  result(): HealingOutput {
    return { decisions: this.decisions, alerts: this.alerts, actions: [...this.changed].map((a) => ({ ...a })) }
  }
}
