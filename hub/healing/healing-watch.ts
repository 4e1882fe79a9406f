/**
 * What healing keeps of each agent's process, and how an identify tells a restart: the same on
 * both stores (one hub's MemoryHealingStore, a cluster's `agents.pm2_info`).
 */
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

/** What is saved of the agent: its last process seen and its crash times; null when there is nothing to keep. */
export function toSavedWatch(agentId: string, seen: Pm2Seen | undefined, crashes: readonly number[]): Omit<SavedWatch, 'keep_until'> | null {
  if (!seen && crashes.length === 0) return null
  return { agent_id: agentId, restart_count: seen?.restart_count ?? null, pid: seen?.pid ?? null, crashes: [...crashes] }
}
