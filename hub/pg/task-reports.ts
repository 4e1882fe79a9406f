/**
 * Agents' reports of their tasks (accepted, finished) saved together: one statement and one
 * commit for every report in the batch (hub/pg/write-batch.ts), each applied under exactly the
 * conditions of its one-task form (task-queue.ts startTaskRow and finishTask, which is this with
 * one report), which it falls back to for a batch PostgreSQL refuses as data (text no column can
 * hold). At most one report per task in a batch: one statement may not change a row twice.
 *
 * What a failure does (retried after its delay, or the task fails) is hub/tasks/rules.ts's
 * outcomeVerdict, decided on the rows the batch holds locked: a batch with failures is one
 * transaction that locks their rows, then writes the verdicts with the rest. A batch without
 * (nearly all of them) is the one statement alone.
 */
import { inTransaction, type Queryable, type Sql } from './connect.ts'
import { outcomeVerdict } from '../tasks/rules.ts'
import { startTaskRow, TASK_COLUMNS, type Outcome, type TaskRow } from './task-queue.ts'

export type TaskReport =
  | { kind: 'accept'; task_id: string; agent_id: string }
  | { kind: 'finish'; task_id: string; agent_id: string; outcome: Outcome }

type Finish = Extract<TaskReport, { kind: 'finish' }>

/** An outcome as it is written: the status outcomeVerdict gave it, and a retry's delay. */
interface FinishRecord {
  o_task_id: string
  o_agent_id: string
  o_status: 'completed' | 'failed' | 'queued'
  o_result: string | null
  o_error: string | null
  o_delay_ms: number | null
}

/** Saves `reports` in one commit; answers, per report, the task as it left it, or null when it did not apply. */
export async function saveTaskReports(sql: Sql, reports: readonly TaskReport[]): Promise<(TaskRow | null)[]> {
  const failures = reports.filter((r): r is Finish => r.kind === 'finish' && !r.outcome.ok)
  if (failures.length === 0) return write(sql, reports, [])
  return inTransaction(sql, async (tx) => write(tx, reports, await failureVerdicts(tx, failures)))
}

/**
 * Stores an agent's outcome, once. It applies while the task is in flight on that agent, or
 * queued again after its grace period and not yet taken by anyone (its result is as good as a
 * rerun's), and only from the agent it was last given to: never from one that was never given
 * it, nor once another agent holds it or it has finished. Answers the task as it is now (queued
 * again when a failure had retries left), or null when it did not apply; either way the sidecar
 * is acknowledged, so it stops resending.
 */
export async function finishTask(sql: Sql, taskId: string, agentId: string, outcome: Outcome): Promise<TaskRow | null> {
  const [row] = await saveTaskReports(sql, [{ kind: 'finish', task_id: taskId, agent_id: agentId, outcome }])
  return row
}

/** saveTaskReports one report at a time, each its own commit: for a batch refused as data, so one bad report fails alone. */
export async function saveTaskReportsOneByOne(sql: Sql, reports: readonly TaskReport[]): Promise<(TaskRow | null | Error)[]> {
  return Promise.all(reports.map((r) => (r.kind === 'accept'
    ? startTaskRow(sql, r.task_id, r.agent_id)
    : finishTask(sql, r.task_id, r.agent_id, r.outcome)).catch((err: unknown) => err instanceof Error ? err : new Error(String(err)))))
}

/**
 * Locks the failures' rows and decides each one's verdict on the row as locked: the same rule as
 * one hub's (rules.ts outcomeVerdict). Whether a report applies at all is `write`'s condition.
 */
async function failureVerdicts(tx: Queryable, failures: readonly Finish[]): Promise<FinishRecord[]> {
  const held = await tx<{ task_id: string; retries: number; retry_delay_ms: number; retried: number }[]>`
    SELECT task_id, retries, retry_delay_ms, retried FROM tasks
    WHERE task_id = ANY(${failures.map((f) => f.task_id)}::text[])
    ORDER BY task_id
    FOR UPDATE`
  const byId = new Map(held.map((row) => [row.task_id, row]))
  return failures.flatMap((f) => {
    const row = byId.get(f.task_id)
    if (!row || f.outcome.ok) return []
    const verdict = outcomeVerdict(row, { kind: 'failed', error: f.outcome.error })
    return [{
      o_task_id: f.task_id, o_agent_id: f.agent_id, o_status: verdict.status, o_result: null,
      o_error: f.outcome.error, o_delay_ms: verdict.status === 'queued' ? verdict.delayMs : null,
    }]
  })
}

/** The batch's one statement: the accepts, the successes, and the failures' verdicts (`failed`). */
async function write(sql: Queryable, reports: readonly TaskReport[], failed: readonly FinishRecord[]): Promise<(TaskRow | null)[]> {
  const accepts = reports.filter((r) => r.kind === 'accept')
  // Named apart from the task's columns, which RETURNING names unqualified.
  const finishes: FinishRecord[] = reports.flatMap((r) => r.kind === 'finish' && r.outcome.ok ? [{
    o_task_id: r.task_id, o_agent_id: r.agent_id, o_status: 'completed' as const,
    // JSON text, as insertTask sends an input: exactly what the agent sent, whatever the column keeps.
    o_result: r.outcome.result !== null && r.outcome.result !== undefined ? JSON.stringify(r.outcome.result) : null,
    o_error: null, o_delay_ms: null,
  }] : [])
  finishes.push(...failed)
  const rows = await sql<(TaskRow & { report: 'accept' | 'finish' })[]>`
    WITH accepted AS (
      UPDATE tasks SET status = 'working', updated_at = now()
      FROM unnest(${accepts.map((a) => a.task_id)}::text[], ${accepts.map((a) => a.agent_id)}::text[]) AS a(a_task_id, a_agent_id)
      WHERE tasks.task_id = a.a_task_id AND tasks.agent_id = a.a_agent_id AND tasks.status = 'assigned'
      RETURNING ${sql.unsafe(TASK_COLUMNS)}),
    finished AS (
      -- o_status 'queued': a failure with a retry left, claimable once its delay has passed.
      UPDATE tasks SET
        status = o_status,
        agent_id = CASE WHEN o_status = 'queued' THEN pinned ELSE o_agent_id END,
        run_after = CASE WHEN o_status = 'queued' THEN now() + o_delay_ms * interval '1 millisecond' ELSE NULL END,
        retried = CASE WHEN o_status = 'queued' THEN retried + 1 ELSE retried END,
        assigned_at = CASE WHEN o_status = 'queued' THEN NULL ELSE assigned_at END,
        result = o_result::json, error = o_error, deadline_at = NULL, updated_at = now()
      FROM jsonb_to_recordset(${JSON.stringify(finishes)}::text::jsonb)
        AS o(o_task_id text, o_agent_id text, o_status text, o_result text, o_error text, o_delay_ms float8)
      WHERE task_id = o_task_id AND (
        (status IN ('assigned', 'working') AND agent_id = o_agent_id) OR
        -- Not one waiting for a retry: a report then is a resend of the failure that queued it.
        (status = 'queued' AND run_after IS NULL AND last_agent_id = o_agent_id))
      RETURNING ${sql.unsafe(TASK_COLUMNS)})
    SELECT 'accept' AS report, * FROM accepted UNION ALL SELECT 'finish' AS report, * FROM finished`
  const byReport = new Map(rows.map(({ report, ...row }) => [`${report} ${row.task_id}`, row as TaskRow]))
  return reports.map((r) => byReport.get(`${r.kind} ${r.task_id}`) ?? null)
}
