/**
 * The one place each admin API view is shaped: what an agent, a restart, a task and a rollout
 * look like in an answer, whichever store they were read from. One hub reads its records (the
 * Fleet's, the task store's), a cluster its rows (hub/pg/agent-views.ts, hub/pg/task-queue.ts);
 * both carry the facts below, and each view is made from them by one function, so the two
 * modes cannot drift. Records carry more (timers, connections) than a view shows.
 */
import { agentStatus, type AgentRecord } from '../agents/agent-record.ts'
import type { Restart } from '../agents/restart.ts'
import type { TaskRecord } from '../tasks/task-options.ts'
import type { RolloutRecord } from '../rollouts/rollout-store.ts'

/** What a view shows of a restart. */
export type RestartFacts = Pick<Restart, 'restart_id' | 'reason' | 'mode' | 'deadline_s' | 'state' | 'requested_at' | 'updated_at' | 'error' | 'rollout_id'>

/** What the Agent view is made of: one hub's AgentRecord, or a cluster's agent row (hub/pg/agent-views.ts). */
export type AgentFacts = Pick<AgentRecord,
  | 'agent_id' | 'connected_at' | 'last_seen' | 'pm2_info' | 'version' | 'host' | 'supervised' | 'drained' | 'quarantined'
  | 'labels' | 'task_id' | 'stats'> & { restart: RestartFacts | null }

/** What the Task view is made of: one hub's TaskRecord, or a cluster's task row (hub/pg/task-queue.ts). */
export type TaskFacts = Pick<TaskRecord,
  | 'task_id' | 'status' | 'input' | 'agent_id' | 'attempts' | 'result' | 'error' | 'timeout_ms' | 'labels' | 'retries'
  | 'retry_delay_ms' | 'retried' | 'run_after' | 'created_at' | 'updated_at'>

export function restartView(r: Readonly<RestartFacts> | null) {
  if (!r) return null
  return {
    restart_id: r.restart_id, reason: r.reason, mode: r.mode, deadline_s: r.deadline_s, state: r.state,
    requested_at: r.requested_at, updated_at: r.updated_at, error: r.error, rollout_id: r.rollout_id,
  }
}

/**
 * `connected`: one hub, the agent has a socket here; a cluster, its hub's lease holds too.
 * `hubId`: the hub holding the agent's socket (this one, for a single hub; '' for none).
 */
export function agentView(a: Readonly<AgentFacts>, connected: boolean, hubId: string) {
  return {
    agent_id: a.agent_id,
    connected,
    status: agentStatus(connected, a),
    connected_at: a.connected_at,
    last_seen: a.last_seen,
    pm2_info: a.pm2_info,
    version: a.version ?? null,
    host: a.host ? { ...a.host } : null,
    supervised: a.supervised,
    drained: a.drained,
    quarantined: a.quarantined,
    labels: [...(a.labels ?? [])],
    task_id: a.task_id,
    /** Null until the agent's first report; kept after it disconnects. */
    stats: a.stats ? { ...a.stats } : null,
    restart: restartView(a.restart),
    hub_id: hubId,
  }
}

/** One hub's agent: connected while it has a socket here. */
export function recordView(rec: AgentRecord, hubId: string) {
  return agentView(rec, rec.peer !== null, hubId)
}

/** The answer to a restart command that was accepted. */
export function restartCommandedView(agentId: string, result: { restart: Pick<Restart, 'restart_id' | 'reason' | 'mode' | 'state'>; already_pending: boolean }) {
  const r = result.restart
  return {
    status: 'restart_commanded' as const, agent_id: agentId, reason: r.reason, restart_id: r.restart_id,
    mode: r.mode, state: r.state, already_pending: result.already_pending,
  }
}

export function taskView(t: Readonly<TaskFacts>) {
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

export type AgentView = ReturnType<typeof agentView>
export type TaskView = ReturnType<typeof taskView>
export type RolloutView = ReturnType<typeof rolloutView>
