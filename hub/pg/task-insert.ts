/**
 * A task's creation in cluster mode as one statement, far from the queue cap: the cap's count
 * (queue-cap.ts), the insert and the nudge to every hub (pg_notify, sent at its commit), which
 * as a transaction took five round trips (BEGIN, count, INSERT, NOTIFY, COMMIT) and as many
 * statements. Near the cap it inserts nothing and answers null: the caller then takes the
 * transaction that serializes creations there across hubs.
 */
import type { Queryable } from './connect.ts'
import { ALL_HUBS, BUS_CHANNEL } from './bus.ts'
import { SERIALIZE_WITHIN } from './queue-cap.ts'
import { TASK_COLUMNS, type NewTask, type TaskRow } from './task-queue.ts'
import { TASK_EXTRAS_DEFAULTS } from '../tasks/rules.ts'

/**
 * Inserts `task` queued and nudges every hub, in one commit; null (nothing done) when fewer
 * than SERIALIZE_WITHIN places are left under `maxQueued`. The nudge is the bus's message as
 * `hubId`'s bus would publish it (hub/pg/bus.ts, TASKS_NUDGE).
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
