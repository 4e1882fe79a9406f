/**
 * The admin answers in cluster mode, from the cluster's rows, so every hub answers alike
 * (rollouts: rollouts/engine.ts over pg/pg-rollout-store.ts; restarts: agents/restart-engine.ts over pg/pg-restart-store.ts). A command for an agent is a row first (a restart with its restart_id, the drained flag) and a
 * bus message second, to the hub holding the agent's socket, which carries it out; the answer
 * is read back from the rows. A database that cannot be reached is a 503 (StorageUnavailable).
 */
import { type AdminBackend, type AgentView, type TaskView } from '../api/admin.ts'
import { inTransaction, type Sql } from '../pg/connect.ts'
import { storageBound } from './deadline.ts'
import type { PgBus } from '../pg/notify-bus.ts'
import { getAgentView, listAgentViews, setDrained, type AgentViewRow } from '../pg/agent-views.ts'
import { liftQuarantine } from '../pg/healing-rows.ts'
import { cancelTask, getTask, insertTask, type TaskRow } from '../pg/task-queue.ts'
import { TASKS_NUDGE, type PgTaskStore } from '../pg/pg-task-store.ts'
import { TASK_EXTRAS_DEFAULTS, cancelVerdict, type TaskExtras } from '../tasks/rules.ts'
import { fanOutTargets } from '../tasks/pg-fan-out.ts'
import { ALL_HUBS } from '../pg/notify-bus.ts'
import { assertQueueRoom } from '../pg/queue-cap-rows.ts'
import { TASK_CANCEL } from '../tasks/task-engine.ts'
import type { RolloutEngine } from '../rollouts/engine.ts'
import type { HealingRuntime } from '../healing/healing-runtime.ts'
import type { RestartEngine } from '../agents/restart-engine.ts'

export interface ClusterAdminDeps {
  sql: Sql
  bus: PgBus
  hubId: string
  newId: () => string
  defaultTimeoutMs: number
  /** AGENTCOM_MAX_QUEUED_TASKS over the whole cluster's queue (pg/queue-cap.ts). Default: no cap. */
  maxQueuedTasks?: number
  rollouts: RolloutEngine
  /** Restarts: recorded in the rows, delivered by the hub holding the agent (hub/agents/restart-engine.ts). */
  restarts: Pick<RestartEngine, 'command'>
  healing: Pick<HealingRuntime, 'view' | 'pause' | 'resume' | 'changed'>
  /** Where tasks are kept (a creation goes through its insert). */
  taskStore: PgTaskStore
  /** Carry out a command here, at once, for an agent this hub holds (no round trip through the bus). */
  local: {
    drained(agentId: string, drained: boolean): void
    /** An agent no hub holds changed in its row (a drain or resume while offline): for the events stream. */
    agentChanged?(agentId: string): void
    /** A task's row changed here (for the events stream). */
    taskChanged(taskId: string, row?: TaskRow): void
    /** A task in flight on an agent this hub holds was cancelled: tell the agent to stop it. */
    cancelTask?(agentId: string, taskId: string): void
  }
}

export function createClusterAdmin(d: ClusterAdminDeps): AdminBackend {
  const { sql, bus, hubId } = d

  async function setDrainedAndTell(agentId: string, drained: boolean): Promise<AgentView | null> {
    let lifted: string[] = []
    const held = await inTransaction(sql, async (tx) => {
      const row = await setDrained(tx, agentId, drained)
      if (row?.live && row.hub_id !== null && row.hub_id !== hubId) {
        await bus.publish(row.hub_id, { kind: drained ? 'drain' : 'resume', agent_id: agentId }, tx)
      }
      // A resume lifts a quarantine (setDrained clears the flag): its action too, whichever hub.
      if (row && !drained) lifted = await liftQuarantine(tx, agentId)
      return row
    })
    if (!held) return null
    d.healing.changed(lifted)
    if (held.live && held.hub_id === hubId) d.local.drained(agentId, drained)
    // Held nowhere: no hub's fleet will publish it, so this one does (one hub shows it too).
    else if (!held.live) d.local.agentChanged?.(agentId)
    const view = await getAgentView(sql, agentId)
    return view ? agentViewOf(view) : null
  }

  return storageGuard({
    async listAgents(query, labels) {
      // One row past the page tells whether there is a next page (as pageAgents does).
      const rows = await listAgentViews(sql, {
        status: query.status, version: query.version, after: query.cursor, limit: query.limit === undefined ? undefined : query.limit + 1, labels,
      })
      const agents = rows.slice(0, query.limit).map(agentViewOf)
      if (query.limit === undefined) return { agents }
      return { agents, next_cursor: rows.length > query.limit ? agents[agents.length - 1].agent_id : null }
    },
    getAgent: async (agentId) => {
      const row = await getAgentView(sql, agentId)
      return row ? agentViewOf(row) : null
    },
    restart: (agentId, cmd) => d.restarts.command(agentId, cmd),
    drain: (agentId) => setDrainedAndTell(agentId, true),
    resume: (agentId) => setDrainedAndTell(agentId, false),
    async createTask(input, pinned, timeoutMs, extras) {
      // Committed before the answer, and every hub nudged at commit to try its free agents.
      const task = { task_id: d.newId(), input, pinned, timeout_ms: timeoutMs ?? d.defaultTimeoutMs, extras: { ...TASK_EXTRAS_DEFAULTS, ...defined(extras) } }
      const row = await d.taskStore.insert(task)
      d.local.taskChanged(row.task_id, row)
      return taskViewOf(row)
    },
    async createTasksForAll(input, timeoutMs, extras) {
      const rows = await inTransaction(sql, async (tx) => {
        const targets = await fanOutTargets(tx, extras.labels ?? [])
        const tasks: TaskRow[] = []
        for (const agentId of targets) {
          // Past the cap the transaction rolls back: a fan-out creates all its tasks or none.
          if (d.maxQueuedTasks !== undefined) await assertQueueRoom(tx, d.maxQueuedTasks)
          tasks.push(await insertTask(tx, {
            task_id: d.newId(), input, pinned: agentId, timeout_ms: timeoutMs ?? d.defaultTimeoutMs,
            extras: { ...TASK_EXTRAS_DEFAULTS, ...defined(extras) },
          }))
        }
        if (tasks.length > 0) await bus.publish(ALL_HUBS, { ...TASKS_NUDGE }, tx)
        return tasks
      })
      for (const row of rows) d.local.taskChanged(row.task_id, row)
      return rows.map(taskViewOf)
    },
    getTask: async (taskId) => {
      const row = await d.taskStore.get(taskId)
      return row ? taskViewOf(row) : null
    },
    async listTasks(query) {
      const page = await d.taskStore.list(query)
      return { tasks: page.tasks.map(taskViewOf), next_cursor: page.next_cursor }
    },
    async cancelTask(taskId) {
      const cancelled = await inTransaction(sql, async (tx) => {
        const done = await cancelTask(tx, taskId)
        // The hub holding the agent stops the task; told at commit (this one, at once, below).
        if (done && cancelVerdict(done.was) === 'cancel_and_signal' && done.holder !== null && done.holder !== hubId && done.row.agent_id !== null) {
          await bus.publish(done.holder, { kind: TASK_CANCEL, agent_id: done.row.agent_id, task_id: taskId }, tx)
        }
        return done
      })
      if (!cancelled) {
        const row = await getTask(sql, taskId)
        return { ok: false, error: row ? 'task_finished' : 'task_not_found' }
      }
      const { row, was, holder } = cancelled
      if (cancelVerdict(was) === 'cancel_and_signal' && holder === hubId && row.agent_id !== null) d.local.cancelTask?.(row.agent_id, taskId)
      d.local.taskChanged(taskId, row)
      return { ok: true, task: taskViewOf(row) }
    },
    createRollout: (request) => d.rollouts.create(request),
    getRollout: (rolloutId) => d.rollouts.view(rolloutId),
    cancelRollout: (rolloutId) => d.rollouts.cancel(rolloutId),
    healing: () => d.healing.view(),
    pauseHealing: () => d.healing.pause(),
    resumeHealing: () => d.healing.resume(),
  })
}

/** The Agent view (views.ts's agentView, field for field) from its row. */
export function agentViewOf(row: AgentViewRow): AgentView {
  const restart = row.restart
  const status = restart?.state === 'restarting' ? 'restarting' : !row.connected ? 'offline' : row.task_id ? 'working' : 'idle'
  return {
    agent_id: row.agent_id,
    connected: row.connected,
    status,
    connected_at: row.connected_at,
    last_seen: row.last_seen,
    pm2_info: row.pm2_info,
    version: row.version ?? null,
    host: row.host ?? null,
    supervised: row.supervised,
    drained: row.drained,
    quarantined: row.quarantined,
    labels: row.labels ?? [],
    task_id: row.task_id,
    stats: row.stats ?? null,
    restart: restart
      ? {
        restart_id: restart.restart_id, reason: restart.reason, mode: restart.mode, deadline_s: restart.deadline_s,
        state: restart.state, requested_at: restart.requested_at, updated_at: restart.updated_at, error: restart.error,
        rollout_id: restart.rollout_id,
      }
      : null,
    hub_id: row.hub_id ?? '',
  }
}

export function taskViewOf(t: TaskRow): TaskView {
  return {
    task_id: t.task_id, status: t.status, input: t.input, agent_id: t.agent_id,
    attempts: t.attempts, result: t.result, error: t.error, timeout_ms: t.timeout_ms,
    labels: t.labels, retries: t.retries, retry_delay_ms: t.retry_delay_ms, retried: t.retried, run_after: t.run_after,
    created_at: t.created_at, updated_at: t.updated_at,
  }
}

/**
 * Connection failures (refused, reset, timed out, server shutting down) and a database that does
 * not answer within REQUEST_DEADLINE_MS become StorageUnavailable; anything else is a bug and stays a 500.
 */
function storageGuard(backend: AdminBackend): AdminBackend {
  const guarded = {} as Record<string, unknown>
  for (const [name, fn] of Object.entries(backend) as [string, (...args: unknown[]) => Promise<unknown>][]) {
    guarded[name] = (...args: unknown[]) => storageBound(() => fn(...args))
  }
  return guarded as unknown as AdminBackend
}

function defined(extras: Partial<TaskExtras> | undefined): Partial<TaskExtras> {
  return Object.fromEntries(Object.entries(extras ?? {}).filter(([, v]) => v !== undefined))
}
