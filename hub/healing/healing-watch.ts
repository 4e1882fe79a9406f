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

/**
 * What one hub saves of an agent it watches (hub/store/fleet-state.ts), so a hub restart
 * neither forgets a crash nor takes the next identify as a baseline: a cluster keeps the same in
 * its rows (the agent's pm2_info, `agent_crashes`).
 */
export interface SavedWatch {
  agent_id: string
  /** The pm2 restart count and pid of the agent's last identify: the next one is compared with them. */
  restart_count: number | null
  pid: number | null
  /** When each unplanned restart still within the window was seen (ms), oldest first. */
  crashes: number[]
  /**
   * Set while the agent has not identified since a hub restart (the fleet does not know it):
   * kept until then, as long as the fleet keeps an offline agent, and forgotten after.
   */
  keep_until: number | null
}

/** Whether two saves of an agent's watch say the same (an identify of the same process changes nothing). */
export function isSameWatch(a: Omit<SavedWatch, 'keep_until'> | null, b: Omit<SavedWatch, 'keep_until'> | null): boolean {
  if (a === null || b === null) return a === b
  return a.restart_count === b.restart_count && a.pid === b.pid &&
    a.crashes.length === b.crashes.length && a.crashes.every((at, i) => at === b.crashes[i])
}

/** The save of a watch and its crash times; null when there is nothing to keep. */
export function toSavedWatch(agentId: string, watch: AgentWatch | undefined, crashes: readonly number[]): Omit<SavedWatch, 'keep_until'> | null {
  if (!watch || (watch.restartCount === null && watch.pid === null && crashes.length === 0)) return null
  return { agent_id: agentId, restart_count: watch.restartCount, pid: watch.pid, crashes: [...crashes] }
}
