/**
 * The parts of the task lifecycle that must hold across hubs, each one SQL statement:
 * claiming with FOR UPDATE SKIP LOCKED (a task goes to one agent however many hubs claim at
 * once), completing only for the agent that holds the task, requeueing, and finding overdue
 * tasks on the database's clock. Every function resolves after its change has committed.
 */
import type { Queryable } from './connect.ts'

export type TaskStatus = 'queued' | 'assigned' | 'working' | 'completed' | 'failed'
export type Outcome = { ok: true; result: unknown } | { ok: false; error: string }

export interface NewTask {
  task_id: string
  input: unknown
  /** Only this agent may take the task; null: any agent. */
  pinned: string | null
  timeout_ms: number
}

export interface TaskRow {
  task_id: string
  status: TaskStatus
  input: unknown
  pinned: string | null
  /** The agent running it now, or that ran it last. */
  agent_id: string | null
  /** The hub that assigned it (which holds, or held, that agent's socket). */
  hub_id: string | null
  attempts: number
  result: unknown
  error: string | null
  timeout_ms: number
  /** Epoch ms, database time, as every time here. */
  created_at: number
  updated_at: number
  assigned_at: number | null
  /** assigned_at + timeout_ms. */
  deadline_at: number | null
}

const COLUMNS = `task_id, status, input, pinned, agent_id, hub_id, attempts, result, error, timeout_ms,
  epoch_ms(created_at) AS created_at, epoch_ms(updated_at) AS updated_at,
  epoch_ms(assigned_at) AS assigned_at, epoch_ms(deadline_at) AS deadline_at`

/**
 * Adds a queued task. Resolves once committed: then the hub may answer 201. The input goes as
 * JSON text: `sql.json(null)` would be SQL NULL, and `null` is an input like any other.
 */
export async function insertTask(sql: Queryable, task: NewTask): Promise<TaskRow> {
  const [row] = await sql<TaskRow[]>`
    INSERT INTO tasks (task_id, status, input, pinned, agent_id, timeout_ms)
    VALUES (${task.task_id}, 'queued', ${JSON.stringify(task.input)}::text::jsonb, ${task.pinned}, ${task.pinned}, ${task.timeout_ms})
    RETURNING ${sql.unsafe(COLUMNS)}`
  return row
}

export async function getTask(sql: Queryable, taskId: string): Promise<TaskRow | null> {
  const [row] = await sql<TaskRow[]>`SELECT ${sql.unsafe(COLUMNS)} FROM tasks WHERE task_id = ${taskId}`
  return row ?? null
}

/**
 * Gives the oldest queued task `agentId` may run to it, or returns null. Only while `hubId`
 * holds the agent's socket and its own lease, and only if the agent holds no task already.
 * Rows another claimer has locked are skipped, never waited on or taken twice.
 */
export async function claimTask(sql: Queryable, agentId: string, hubId: string): Promise<TaskRow | null> {
  const [row] = await sql<TaskRow[]>`
    UPDATE tasks SET status = 'assigned', agent_id = ${agentId}, hub_id = ${hubId}, attempts = attempts + 1,
      assigned_at = now(), deadline_at = now() + timeout_ms * interval '1 millisecond', updated_at = now()
    WHERE task_id = (
      SELECT task_id FROM tasks
      WHERE status = 'queued' AND (pinned IS NULL OR pinned = ${agentId})
        AND EXISTS (SELECT 1 FROM agents a JOIN hubs h ON h.hub_id = a.hub_id
          WHERE a.agent_id = ${agentId} AND a.hub_id = ${hubId} AND a.connected AND h.lease_until > now())
        AND NOT EXISTS (SELECT 1 FROM tasks busy WHERE busy.agent_id = ${agentId} AND busy.status IN ('assigned', 'working'))
      ORDER BY seq
      FOR UPDATE SKIP LOCKED
      LIMIT 1)
    RETURNING ${sql.unsafe(COLUMNS)}`
  return row ?? null
}

/** The agent accepted its assignment. Returns whether the task was still its own. */
export async function startTask(sql: Queryable, taskId: string, agentId: string): Promise<boolean> {
  const rows = await sql`UPDATE tasks SET status = 'working', updated_at = now()
    WHERE task_id = ${taskId} AND agent_id = ${agentId} AND status = 'assigned' RETURNING task_id`
  return rows.length === 1
}

/**
 * Stores an agent's outcome, once. It applies while the task is in flight on that agent, or
 * queued again after its grace period and not yet taken by anyone (its result is as good as a
 * rerun's); not once another agent holds it or it has finished. Returns whether it applied;
 * either way the sidecar is acknowledged, so it stops resending.
 */
export async function completeTask(sql: Queryable, taskId: string, agentId: string, outcome: Outcome): Promise<boolean> {
  const result = outcome.ok && outcome.result !== null && outcome.result !== undefined ? sql.json(outcome.result as never) : null
  const rows = await sql`
    UPDATE tasks SET status = ${outcome.ok ? 'completed' : 'failed'}, agent_id = ${agentId},
      result = ${result}, error = ${outcome.ok ? null : outcome.error}, deadline_at = NULL, updated_at = now()
    WHERE task_id = ${taskId} AND (
      (status IN ('assigned', 'working') AND agent_id = ${agentId}) OR
      (status = 'queued' AND (pinned IS NULL OR pinned = ${agentId})))
    RETURNING task_id`
  return rows.length === 1
}

/**
 * Takes a task back from `agentId` (it vanished past its grace, refused it, was cut short):
 * queued again, or failed once it has had `maxAttempts`. `started: false` (refused before it
 * ran) does not count as an attempt. Returns the task as it is now, or null when `agentId`
 * no longer held it (someone acted first).
 */
export async function requeueTask(
  sql: Queryable,
  taskId: string,
  opts: { agentId: string; maxAttempts: number; started?: boolean },
): Promise<TaskRow | null> {
  // Computed from the locked row itself, in every SET (which all see the row before the update).
  const dec = opts.started === false ? 1 : 0
  const max = opts.maxAttempts
  const [row] = await sql<TaskRow[]>`
    UPDATE tasks SET attempts = greatest(attempts - ${dec}::int, 0),
      status = CASE WHEN greatest(attempts - ${dec}::int, 0) >= ${max}::int THEN 'failed' ELSE 'queued' END,
      error = CASE WHEN greatest(attempts - ${dec}::int, 0) >= ${max}::int
        THEN 'interrupted ' || greatest(attempts - ${dec}::int, 0) || ' times' ELSE error END,
      agent_id = CASE WHEN greatest(attempts - ${dec}::int, 0) >= ${max}::int THEN agent_id ELSE pinned END,
      assigned_at = NULL, deadline_at = NULL, updated_at = now()
    WHERE task_id = ${taskId} AND status IN ('assigned', 'working') AND agent_id = ${opts.agentId}
    RETURNING ${sql.unsafe(COLUMNS)}`
  return row ?? null
}

/**
 * Forgets finished tasks past the newest `keep` (by when they finished), as one hub forgets
 * them from memory (task-retention.ts). Returns how many went.
 */
export async function pruneFinishedTasks(sql: Queryable, keep: number): Promise<number> {
  const rows = await sql`DELETE FROM tasks WHERE task_id IN (
      SELECT task_id FROM tasks WHERE status IN ('completed', 'failed') ORDER BY updated_at DESC, seq DESC OFFSET ${keep} LIMIT 1000)
    RETURNING task_id`
  return rows.length
}

/**
 * Tasks in flight more than `graceMs` past their deadline on the database's clock, oldest
 * deadline first (`hubId`: only those dispatched by that hub).
 */
export async function overdueTasks(sql: Queryable, graceMs = 0, hubId: string | null = null, limit = 100): Promise<TaskRow[]> {
  return sql<TaskRow[]>`SELECT ${sql.unsafe(COLUMNS)} FROM tasks
    WHERE status IN ('assigned', 'working') AND deadline_at < now() - ${graceMs}::float8 * interval '1 millisecond'
      AND ${hubId === null ? sql`true` : sql`hub_id = ${hubId}`}
    ORDER BY deadline_at LIMIT ${limit}`
}

/** The tasks in flight on `agentId` (normally at most one). */
export async function tasksHeldBy(sql: Queryable, agentId: string): Promise<TaskRow[]> {
  return sql<TaskRow[]>`SELECT ${sql.unsafe(COLUMNS)} FROM tasks
    WHERE agent_id = ${agentId} AND status IN ('assigned', 'working') ORDER BY seq`
}

/**
 * An agent identified (on hub `hubId`) still holding `taskId`: it runs on there. Applies while
 * the task is in flight on that agent, or queued again after its grace period and not yet
 * taken by anyone. Returns whether the agent may keep it.
 */
export async function adoptTask(sql: Queryable, taskId: string, agentId: string, hubId: string): Promise<boolean> {
  const rows = await sql`
    UPDATE tasks SET status = 'working', agent_id = ${agentId}, hub_id = ${hubId}, updated_at = now(),
      assigned_at = coalesce(assigned_at, now()),
      deadline_at = coalesce(deadline_at, now() + timeout_ms * interval '1 millisecond')
    WHERE task_id = ${taskId} AND (
      (status IN ('assigned', 'working') AND agent_id = ${agentId}) OR
      (status = 'queued' AND (pinned IS NULL OR pinned = ${agentId})))
    RETURNING task_id`
  return rows.length === 1
}

/**
 * Tasks in flight on agents that have had no live connection for longer than `graceMs`: on a
 * hub that closed their socket (since the socket closed) or on a hub whose lease ran out
 * (since it ran out). Their holders may be gone; requeue them with requeueTask.
 */
export async function orphanedTasks(sql: Queryable, graceMs: number, limit = 100): Promise<TaskRow[]> {
  return sql<TaskRow[]>`SELECT ${sql.unsafe(COLUMNS)} FROM tasks WHERE task_id IN (
    SELECT t.task_id FROM tasks t LEFT JOIN agents a ON a.agent_id = t.agent_id LEFT JOIN hubs h ON h.hub_id = a.hub_id
    WHERE t.status IN ('assigned', 'working')
      AND NOT coalesce(a.connected AND h.lease_until > now(), false)
      AND coalesce(CASE WHEN a.connected THEN h.lease_until ELSE a.last_seen END, t.updated_at)
        < now() - ${graceMs}::float8 * interval '1 millisecond'
    ORDER BY t.seq LIMIT ${limit})
    ORDER BY seq`
}
