/**
 * The one place each admin API view is shaped: what an agent, a restart, a task and a rollout
 * look like in an answer. Records carry more (timers, connections) than a view shows.
 */
import type { AgentRecord, AgentStatus, Restart } from '../agents/fleet.ts'
import type { TaskRecord } from '../tasks/task-options.ts'
import type { RolloutRecord } from '../rollouts/rollout-store.ts'

export function restartView(r: Readonly<Restart> | null) {
  if (!r) return null
  return {
    restart_id: r.restart_id, reason: r.reason, mode: r.mode, deadline_s: r.deadline_s, state: r.state,
    requested_at: r.requested_at, updated_at: r.updated_at, error: r.error, rollout_id: r.rollout_id,
  }
}

/** `hubId`: the hub holding the agent's socket (this one, for a single hub). */
export function agentView(fleet: { status(rec: AgentRecord): AgentStatus }, rec: AgentRecord, hubId: string) {
  return {
    agent_id: rec.agent_id,
    connected: rec.peer !== null,
    status: fleet.status(rec),
    connected_at: rec.connected_at,
    last_seen: rec.last_seen,
    pm2_info: rec.pm2_info,
    version: rec.version,
    host: rec.host && { ...rec.host },
    supervised: rec.supervised,
    drained: rec.drained,
    quarantined: rec.quarantined,
    labels: [...rec.labels],
    task_id: rec.task_id,
    /** Null until the agent's first report; kept after it disconnects. */
    stats: rec.stats ? { ...rec.stats } : null,
    restart: restartView(rec.restart),
    hub_id: hubId,
  }
}

/** The answer to a restart command that was accepted. */
export function restartCommandedView(agentId: string, result: { restart: Pick<Restart, 'restart_id' | 'reason' | 'mode' | 'state'>; already_pending: boolean }) {
  const r = result.restart
  return {
    status: 'restart_commanded' as const, agent_id: agentId, reason: r.reason, restart_id: r.restart_id,
    mode: r.mode, state: r.state, already_pending: result.already_pending,
  }
}

export function taskView(t: Readonly<TaskRecord>) {
  return {
    task_id: t.task_id, status: t.status, input: t.input, agent_id: t.agent_id,
    attempts: t.attempts, result: t.result, error: t.error, timeout_ms: t.timeout_ms,
    labels: [...t.labels], retries: t.retries, retry_delay_ms: t.retry_delay_ms, retried: t.retried, run_after: t.run_after,
    created_at: t.created_at, updated_at: t.updated_at,
  }
}

/** The same from either store: an agent's state is its restart's, `waiting` before its turn, `failed` when it could not be commanded. */
export function rolloutView(r: Readonly<RolloutRecord>) {
  return {
    rollout_id: r.rollout_id, state: r.state, reason: r.reason, mode: r.mode, deadline_s: r.deadline_s,
    max_unavailable: r.max_unavailable, error: r.error,
    agents: r.agents.map((a) => ({
      agent_id: a.agent_id,
      state: a.error ? 'failed' as const : (a.restart_state ?? 'waiting' as const),
      restart_id: a.restart_id,
      ...(a.error ? { error: a.error } : {}),
    })),
    created_at: r.created_at, updated_at: r.updated_at,
  }
}
