/**
 * A task's creation in cluster mode as one statement, far from the queue cap: the cap's count
 * (queue-cap.ts), the insert and the nudge to every hub (pg_notify, sent at its commit), which
 * as a transaction took five round trips (BEGIN, count, INSERT, NOTIFY, COMMIT) and as many
 * statements. Near the cap it inserts nothing and answers null: the caller then takes the
 * transaction that serializes creations there across hubs.
 */
import type { Queryable } from './connect.ts'
import { ALL_HUBS, BUS_CHANNEL } from './notify-bus.ts'
import { SERIALIZE_WITHIN } from './queue-cap-rows.ts'
import { TASK_COLUMNS, type NewTask, type TaskRow } from './task-queue.ts'
import { TASK_EXTRAS_DEFAULTS } from '../tasks/rules.ts'

/**
 * Inserts `task` queued and nudges every hub, in one commit; null (nothing done) when fewer
 * than SERIALIZE_WITHIN places are left under `maxQueued`. The nudge is the bus's message as
 * `hubId`'s bus would publish it (hub/pg/notify-bus.ts, TASKS_NUDGE).
 */
export async function insertTaskNudged(sql: Queryable, task: NewTask, o: { maxQueued?: number; hubId: string }): Promise<TaskRow | null> {
  const below = o.maxQueued === undefined ? null : o.maxQueued - SERIALIZE_WITHIN
  if (below !== null && below <= 0) return null
  const extras = task.extras ?? TASK_EXTRAS_DEFAULTS
  const nudge = JSON.stringify({ kind: 'tasks', to: ALL_HUBS, from: o.hubId })
  const room = below === null
    ? sql`SELECT true AS ok`
    : sql`SELECT count(*) < ${below} AS ok FROM (SELECT 1 FROM tasks WHERE status = 'queued' LIMIT ${below}) AS queued`
  const [row] = await sql<TaskRow[]>`
    WITH room AS (${room}),
    added AS (
      INSERT INTO tasks (task_id, status, input, pinned, agent_id, timeout_ms, labels, retries, retry_delay_ms)
      SELECT ${task.task_id}, 'queued', ${JSON.stringify(task.input)}::text::json, ${task.pinned}, ${task.pinned}, ${task.timeout_ms},
        ${extras.labels}::text[], ${extras.retries}, ${extras.retry_delay_ms}
      FROM room WHERE room.ok
      RETURNING *),
    nudged AS (SELECT pg_notify(${BUS_CHANNEL}, ${nudge}) FROM added)
    SELECT ${sql.unsafe(TASK_COLUMNS)}, (SELECT count(*) FROM nudged) AS nudged FROM added`
  if (!row) return null
  const { nudged: _, ...created } = row as TaskRow & { nudged: unknown }
  return created
}

/**
 * insertTaskNudged for several tasks in one statement and one commit (the POSTs that came in
 * together, hub/pg/write-batch.ts), with one nudge for all: all of them, or none (null each)
 * when fewer than SERIALIZE_WITHIN places would be left under `maxQueued` after them.
 */
export async function insertTasksNudged(sql: Queryable, tasks: readonly NewTask[], o: { maxQueued?: number; hubId: string }): Promise<(TaskRow | null)[]> {
  if (tasks.length === 1) return [await insertTaskNudged(sql, tasks[0], o)]
  const below = o.maxQueued === undefined ? null : o.maxQueued - SERIALIZE_WITHIN - (tasks.length - 1)
  if (below !== null && below <= 0) return tasks.map(() => null)
  const nudge = JSON.stringify({ kind: 'tasks', to: ALL_HUBS, from: o.hubId })
  const room = below === null
    ? sql`SELECT true AS ok`
    : sql`SELECT count(*) < ${below} AS ok FROM (SELECT 1 FROM tasks WHERE status = 'queued' LIMIT ${below}) AS queued`
  // Each input as JSON text inside the batch's JSON, cast to json as the column takes it (json
  // keeps the text exactly; a jsonb column takes json by assignment): `null` is an input like any other.
  const batch = JSON.stringify(tasks.map((task, n) => {
    const extras = task.extras ?? TASK_EXTRAS_DEFAULTS
    return { n, task_id: task.task_id, input: JSON.stringify(task.input), pinned: task.pinned, timeout_ms: task.timeout_ms,
      labels: extras.labels, retries: extras.retries, retry_delay_ms: extras.retry_delay_ms }
  }))
  const rows = await sql<TaskRow[]>`
    WITH room AS (${room}),
    added AS (
      INSERT INTO tasks (task_id, status, input, pinned, agent_id, timeout_ms, labels, retries, retry_delay_ms)
      SELECT t.task_id, 'queued', t.input::json, t.pinned, t.pinned, t.timeout_ms,
        ARRAY(SELECT jsonb_array_elements_text(t.labels)), t.retries, t.retry_delay_ms
      FROM room, jsonb_to_recordset(${batch}::text::jsonb)
        AS t(n int, task_id text, input text, pinned text, timeout_ms int, labels jsonb, retries int, retry_delay_ms int)
      WHERE room.ok
      ORDER BY t.n
      RETURNING *),
    nudged AS (SELECT pg_notify(${BUS_CHANNEL}, ${nudge}) WHERE EXISTS (SELECT 1 FROM added))
    SELECT ${sql.unsafe(TASK_COLUMNS)}, (SELECT count(*) FROM nudged) AS nudged FROM added`
  const byId = new Map(rows.map((row) => {
    const { nudged: _, ...created } = row as TaskRow & { nudged: unknown }
    return [created.task_id, created as TaskRow]
  }))
  return tasks.map((task) => byId.get(task.task_id) ?? null)
}
