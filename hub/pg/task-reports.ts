/**
 * Agents' reports of their tasks (accepted, finished) saved together: one statement and one
 * commit for every report in the batch (hub/pg/write-batch.ts), each applied under exactly the
 * conditions of its one-task form (task-queue.ts startTaskRow and finishTask), which it falls
 * back to for a batch PostgreSQL refuses as data (text no column can hold). At most one
 * report per task in a batch: one statement may not change a row twice.
 */
import type { Queryable } from './connect.ts'
import { finishTask, startTaskRow, TASK_COLUMNS, type Outcome, type TaskRow } from './task-queue.ts'

export type TaskReport =
  | { kind: 'accept'; task_id: string; agent_id: string }
  | { kind: 'finish'; task_id: string; agent_id: string; outcome: Outcome }

/** Saves `reports` in one commit; answers, per report, the task as it left it, or null when it did not apply. */
export async function saveTaskReports(sql: Queryable, reports: readonly TaskReport[]): Promise<(TaskRow | null)[]> {
  const accepts = reports.filter((r) => r.kind === 'accept')
  // Named apart from the task's columns, which RETURNING names unqualified.
  const finishes = reports.flatMap((r) => r.kind === 'finish' ? [{
    o_task_id: r.task_id, o_agent_id: r.agent_id, o_ok: r.outcome.ok,
    // JSON text, as finishTask sends it: exactly what the agent sent, whatever the column keeps.
    o_result: r.outcome.ok && r.outcome.result !== null && r.outcome.result !== undefined ? JSON.stringify(r.outcome.result) : null,
    o_error: r.outcome.ok ? null : r.outcome.error,
  }] : [])
  const rows = await sql<(TaskRow & { report: 'accept' | 'finish' })[]>`
    WITH accepted AS (
      UPDATE tasks SET status = 'working', updated_at = now()
      FROM unnest(${accepts.map((a) => a.task_id)}::text[], ${accepts.map((a) => a.agent_id)}::text[]) AS a(a_task_id, a_agent_id)
      WHERE tasks.task_id = a.a_task_id AND tasks.agent_id = a.a_agent_id AND tasks.status = 'assigned'
      RETURNING ${sql.unsafe(TASK_COLUMNS)}),
    finished AS (
      -- A failure with retries left is queued again after retry_delay_ms * 2^retried (rules.ts's retryDelay).
      UPDATE tasks SET
        status = CASE WHEN NOT o_ok AND retried < retries THEN 'queued' WHEN o_ok THEN 'completed' ELSE 'failed' END,
        agent_id = CASE WHEN NOT o_ok AND retried < retries THEN pinned ELSE o_agent_id END,
        run_after = CASE WHEN NOT o_ok AND retried < retries
          THEN now() + retry_delay_ms * power(2, retried) * interval '1 millisecond' ELSE NULL END,
        retried = CASE WHEN NOT o_ok AND retried < retries THEN retried + 1 ELSE retried END,
        assigned_at = CASE WHEN NOT o_ok AND retried < retries THEN NULL ELSE assigned_at END,
        result = o_result::json, error = o_error, deadline_at = NULL, updated_at = now()
      FROM jsonb_to_recordset(${JSON.stringify(finishes)}::text::jsonb)
        AS o(o_task_id text, o_agent_id text, o_ok boolean, o_result text, o_error text)
      WHERE task_id = o_task_id AND (
        (status IN ('assigned', 'working') AND agent_id = o_agent_id) OR
        -- Not one waiting for a retry: a report then is a resend of the failure that queued it.
        (status = 'queued' AND run_after IS NULL AND last_agent_id = o_agent_id))
      RETURNING ${sql.unsafe(TASK_COLUMNS)})
    SELECT 'accept' AS report, * FROM accepted UNION ALL SELECT 'finish' AS report, * FROM finished`
  const byReport = new Map(rows.map(({ report, ...row }) => [`${report} ${row.task_id}`, row as TaskRow]))
  return reports.map((r) => byReport.get(`${r.kind} ${r.task_id}`) ?? null)
}

/** saveTaskReports one report at a time, each its own commit: for a batch refused as data, so one bad report fails alone. */
export async function saveTaskReportsOneByOne(sql: Queryable, reports: readonly TaskReport[]): Promise<(TaskRow | null | Error)[]> {
  return Promise.all(reports.map((r) => (r.kind === 'accept'
    ? startTaskRow(sql, r.task_id, r.agent_id)
    : finishTask(sql, r.task_id, r.agent_id, r.outcome)).catch((err: unknown) => err instanceof Error ? err : new Error(String(err)))))
}
