/**
 * HealingPolicy: what healing promises (CONTRACT.md "Healing") and what it says. Its rules are
 * pure functions of counts in healing-rules.ts, the one rule book, judged by the one decider
 * (healing-decider.ts) and healing's part on each hub (hub-healing.ts) over either store: one
 * hub's memory saved in the data dir (memory-healing-store.ts), a cluster's rows
 * (hub/pg/pg-healing-store.ts). The stores count; the rules decide.
 *
 * Rules:
 * - crash loop: `crashLimit` unplanned restarts within the window quarantine the agent; healing
 *   then leaves it alone until an operator resumes it.
 * - memory (only with `maxMemoryMb`): the last two stats reports above it: graceful restart,
 *   reason `heal:memory`. One the budget refuses is dropped; the next report above asks again.
 * - task overdue: the force restart of the task board's backstop, reason `task_overdue`. The
 *   overdue task itself is run again at once; the restart is a healing restart like any other
 *   (in flight, per-agent limit, cooldown) but never dropped: refused, it waits, one per agent,
 *   and goes first once the budget allows. The agent gets no task meanwhile; a new process (it
 *   restarted anyway) ends the wait.
 * - the budget, for every healing restart: at most `maxConcurrent` in flight in the fleet, none
 *   while a rollout runs, none within `cooldownS` of the agent's last one ending, at most
 *   `maxPerAgent` per agent within the window, past which `heal_escalated` once per window.
 */
import type { HealingAction, HealingRule } from './healing-history.ts'
import type { SavedWatch } from './healing-watch.ts'

export type { HealingAction, HealingActionState } from './healing-history.ts'

/** The body of `GET /api/admin/healing`. */
export interface HealingView {
  paused: boolean
  policy: { crash_limit: number; window_s: number; max_memory_mb: number | null; max_concurrent: number; cooldown_s: number; max_per_agent: number }
  actions: HealingAction[]
}

/** What one hub saves of healing (hub/store/fleet-state.ts); `agents` is the file's `healing_agents`. */
export interface SavedHealing {
  paused: boolean
  actions: readonly HealingAction[]
  agents?: readonly SavedWatch[]
}

export type HealingAlertType = 'agent_quarantined' | 'heal_escalated' | 'heal_failed'

/** The body POSTed to AGENTCOM_ALERT_WEBHOOK_URL; `at` is the time of the action's change that raised it. */
export interface HealingAlert {
  type: HealingAlertType
  agent_id: string
  rule: HealingRule
  detail: string
  at: number
}
