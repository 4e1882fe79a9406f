/**
 * What healing keeps of each agent's process (HealingPolicy's per-agent record), and how an
 * identify tells a restart: shared by the single hub's policy and the cluster's decider.
 */
import type { HealingAction } from './healing-history.ts'

/** What the agent runs as, from its identify. */
export interface AgentProcess {
  supervised: boolean
  pm2: { restart_count: number; pid: number | null } | null
  /** The hub had a restart pending for the agent (commanded, deferred or restarting) when it identified. */
  restartCommanded: boolean
}

/** Kept for every agent the hub has seen: primitives only, no object of its own per agent. */
export interface AgentWatch {
  supervised: boolean
  /** The pm2 restart count and pid of its last identify; the count is null without pm2 info. */
  restartCount: number | null
  pid: number | null
  /** Stats reports in a row above the memory limit, capped at 2. */
  memoryAbove: number
  quarantine: HealingAction | null
  /** An overdue force restart the budget has not let start yet. */
  overdue: { since: number; detail: string } | null
}

export interface Pm2Seen {
  restart_count: number
  pid: number | null
}

/**
 * How many restarts an identify shows since the one before: pm2's restart count went up (by
 * each restart, the ones the hub never saw included) or the pid changed; 0 for the same process.
 */
export function restartsSeen(before: Pm2Seen | null, after: Pm2Seen | null): number {
  if (!before || !after) return 0
  const counted = after.restart_count - before.restart_count
  const isNewProcess = counted > 0 || (after.pid !== null && before.pid !== null && after.pid !== before.pid)
  return isNewProcess ? Math.max(1, counted) : 0
}

export function newWatch(): AgentWatch {
  return { supervised: false, restartCount: null, pid: null, memoryAbove: 0, quarantine: null, overdue: null }
}
