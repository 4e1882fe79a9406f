/**
 * The parts of the task lifecycle that must hold across hubs, each one SQL statement:
 * claiming with FOR UPDATE SKIP LOCKED (a task goes to one agent however many hubs claim at
 * once), completing only for the agent that holds the task, requeueing, and finding overdue
 * tasks on the database's clock. Every function resolves after its change has committed.
 */
import { inTransaction, type Queryable, type Sql } from './connect.ts'
import { TASK_EXTRAS_DEFAULTS, requeueVerdict, type TaskExtras, type TaskStatus } from '../tasks/rules.ts'

export type { TaskStatus } from '../tasks/rules.ts'
export type Outcome = { ok: true; result: unknown } | { ok: false; error: string }

export interface NewTask {
  task_id: string
  input: unknown
  /** Only this agent may take the task; null: any agent. */
  pinned: string | null
  timeout_ms: number
  /** Default: none (TASK_EXTRAS_DEFAULTS). */
  extras?: TaskExtras
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
  labels: string[]
  retries: number
  retry_delay_ms: number
  retried: number
  run_after: number | null
}

/** The columns of a TaskRow, times as epoch ms. */
export const TASK_COLUMNS = `task_id, status, input, pinned, agent_id, hub_id, attempts, result, error, timeout_ms,
  epoch_ms(created_at) AS created_at, epoch_ms(updated_at) AS updated_at,
  epoch_ms(assigned_at) AS assigned_at, epoch_ms(deadline_at) AS deadline_at,
  labels, retries, retry_delay_ms, retried, epoch_ms(run_after) AS run_after`
const COLUMNS = TASK_COLUMNS

/**
 * Adds a queued task. Resolves once committed: then the hub may answer 201. The input goes as
 * JSON text into a json column (schema.ts, ANY_JSON): `sql.json` would send jsonb, which refuses
 * U+0000, and `sql.json(null)` would be SQL NULL, while `null` is an input like any other.
 */
export async function insertTask(sql: Queryable, task: NewTask): Promise<TaskRow> {
  const extras = task.extras ?? TASK_EXTRAS_DEFAULTS
  const [row] = await sql<TaskRow[]>`
    INSERT INTO tasks (task_id, status, input, pinned, agent_id, timeout_ms, labels, retries, retry_delay_ms)
    VALUES (${task.task_id}, 'queued', ${JSON.stringify(task.input)}::text::json, ${task.pinned}, ${task.pinned}, ${task.timeout_ms},
      ${extras.labels}::text[], ${extras.retries}, ${extras.retry_delay_ms})
    RETURNING ${sql.unsafe(COLUMNS)}`
  return row
}

/** The tasks' status and last change (epoch ms), to tell whether a row read earlier is still current. */
export async function taskStamps(sql: Queryable, taskIds: string[]): Promise<{ task_id: string; status: TaskRow['status']; updated_at: number }[]> {
  return sql`SELECT task_id, status, epoch_ms(updated_at) AS updated_at FROM tasks WHERE task_id = ANY(${taskIds})`
}

export async function getTask(sql: Queryable, taskId: string): Promise<TaskRow | null> {
  const [row] = await sql<TaskRow[]>`SELECT ${sql.unsafe(COLUMNS)} FROM tasks WHERE task_id = ${taskId}`
  return row ?? null
}

/**
 * Gives queued tasks to as many of `agents` as may run one, in one statement and one commit (the
 * function claim_tasks, schema-throughput.ts CLAIM_TASKS): each claim gives the oldest queued task
 * any agent left may run to the first of them (in the order given) that may. Only agents whose
 * socket `hubId` holds, under its own lease, that hold no task already. Rows another claimer has
 * locked are skipped, never waited on or taken twice. `more_queued`: a task was queued beside
 * those claimed (claimable or not), read before the claims.
 */
export async function claimTasks(sql: Queryable, agents: readonly string[], hubId: string): Promise<{ rows: TaskRow[]; more_queued: boolean }> {
  if (agents.length === 0) return { rows: [], more_queued: false }
  const rows = await sql<(TaskRow & { queued_before: string })[]>`
    SELECT ${sql.unsafe(COLUMNS)},
      (SELECT count(*) FROM (SELECT 1 FROM tasks WHERE status = 'queued' LIMIT ${agents.length + 1}) q) AS queued_before
    FROM claim_tasks(${[...agents]}::text[], ${hubId}, ${agents.length}) AS tasks`
  const claimed = rows.map(({ queued_before: _, ...row }) => row as TaskRow)
  return { rows: claimed, more_queued: rows.length > 0 && Number(rows[0].queued_before) > rows.length }
}

/** The agent accepted its assignment. Returns whether the task was still its own. */
export async function startTask(sql: Queryable, taskId: string, agentId: string): Promise<boolean> {
  return (await startTaskRow(sql, taskId, agentId)) !== null
}

/** startTask, answering the task as it is now (for its event), or null when it was not the agent's. */
export async function startTaskRow(sql: Queryable, taskId: string, agentId: string): Promise<TaskRow | null> {
  const [row] = await sql<TaskRow[]>`UPDATE tasks SET status = 'working', updated_at = now()
    WHERE task_id = ${taskId} AND agent_id = ${agentId} AND status = 'assigned' RETURNING ${sql.unsafe(COLUMNS)}`
  return row ?? null
}

/**
 * Cancels a task that has not finished (rules.ts's cancelVerdict): the task as it is now, the
 * status it had, and the hub holding its agent (to be told to stop it) while connected. Null
 * when the task is unknown or already finished (getTask tells which).
 */
export async function cancelTask(sql: Queryable, taskId: string): Promise<{ row: TaskRow; was: TaskStatus; holder: string | null } | null> {
  const [found] = await sql<(TaskRow & { was: TaskStatus; holder: string | null })[]>`
    UPDATE tasks SET status = 'cancelled', run_after = NULL, deadline_at = NULL, updated_at = now()
    FROM (SELECT task_id AS id, status AS was FROM tasks WHERE task_id = ${taskId} FOR UPDATE) prev
    WHERE tasks.task_id = prev.id AND prev.was IN ('queued', 'assigned', 'working')
    RETURNING ${sql.unsafe(COLUMNS)}, prev.was,
      (SELECT a.hub_id FROM agents a WHERE a.agent_id = tasks.agent_id AND a.connected) AS holder`
  if (!found) return null
  const { was, holder, ...row } = found
  return { row, was, holder }
}

/** Tasks newest first by insertion (`before`: a seq, the cursor), filtered; one past the page tells if there is more. */
export async function listTasks(
  sql: Queryable, q: { status?: TaskStatus; agentId?: string; before?: string; limit: number },
): Promise<(TaskRow & { seq: string })[]> {
  return sql<(TaskRow & { seq: string })[]>`SELECT ${sql.unsafe(COLUMNS)}, seq::text AS seq FROM tasks
    WHERE ${q.status === undefined ? sql`true` : sql`status = ${q.status}`}
      AND ${q.agentId === undefined ? sql`true` : sql`agent_id = ${q.agentId}`}
      AND ${q.before === undefined ? sql`true` : sql`seq < ${q.before}::bigint`}
    ORDER BY seq DESC LIMIT ${q.limit + 1}`
}

/**
 * Takes a task back from `agentId` (it vanished past its grace, refused it, was cut short):
 * queued again, or failed once it has had `maxAttempts` (hub/tasks/rules.ts requeueVerdict,
 * decided on the row held locked). `counted: false` (rules.ts countsAsAttempt: refused before it
 * ran) takes back its assignment's attempt. Returns the task as it is now, or null when `agentId`
 * no longer held it (someone acted first). One transaction of two statements: requeues are rare
 * (interruptions, agents gone, overdue tasks), never on a task's ordinary path.
 */
export async function requeueTask(
  sql: Sql,
  taskId: string,
  opts: { agentId: string; maxAttempts: number; counted?: boolean },
): Promise<TaskRow | null> {
  return inTransaction(sql, async (tx) => {
    const [held] = await tx<{ attempts: number; pinned: string | null; agent_id: string | null; error: string | null }[]>`
      SELECT attempts, pinned, agent_id, error FROM tasks
      WHERE task_id = ${taskId} AND status IN ('assigned', 'working') AND agent_id = ${opts.agentId}
      FOR UPDATE`
    if (!held) return null
    const verdict = requeueVerdict(held, opts.counted ?? true, opts.maxAttempts)
    const [row] = await tx<TaskRow[]>`
      UPDATE tasks SET status = ${verdict.status}, attempts = ${verdict.attempts}, agent_id = ${verdict.agent_id},
        error = ${verdict.error}, assigned_at = NULL, deadline_at = NULL, updated_at = now()
      WHERE task_id = ${taskId}
      RETURNING ${tx.unsafe(COLUMNS)}`
    return row
  })
}

/**
 * Forgets finished tasks (cancelled ones too) past the newest `keep` (by when they finished), as
 * one hub forgets them from memory (task-retention.ts). Returns how many went.
 */
export async function pruneFinishedTasks(sql: Queryable, keep: number): Promise<number> {
  const rows = await sql`DELETE FROM tasks WHERE task_id IN (
      SELECT task_id FROM tasks WHERE status IN ('completed', 'failed', 'cancelled') ORDER BY updated_at DESC, seq DESC OFFSET ${keep} LIMIT 1000)
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
 * taken by anyone, if that agent was the last it was given to. Returns whether the agent may keep it.
 */
export async function adoptTask(sql: Queryable, taskId: string, agentId: string, hubId: string): Promise<boolean> {
  const rows = await sql`
    UPDATE tasks SET status = 'working', agent_id = ${agentId}, last_agent_id = ${agentId}, hub_id = ${hubId}, updated_at = now(),
      assigned_at = coalesce(assigned_at, now()),
      deadline_at = coalesce(deadline_at, now() + timeout_ms * interval '1 millisecond')
    WHERE task_id = ${taskId} AND (
      (status IN ('assigned', 'working') AND agent_id = ${agentId}) OR
      (status = 'queued' AND run_after IS NULL AND last_agent_id = ${agentId}))
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
