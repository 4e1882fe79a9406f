/**
 * Task output in cluster mode: a table every hub reads (task_output), the newest
 * MAX_OUTPUT_BYTES per task kept (output.ts's rule, in SQL). The hub holding the agent appends;
 * its appends for one task are written one after the other, so the table holds them in order,
 * and `written` lets the task's outcome wait for them: a follower on any hub that sees the task
 * finished finds all its output stored.
 */
import type { Logger } from '../../shared/log.ts'
import type { Sql } from './connect.ts'
import { MAX_OUTPUT_BYTES, type OutputRead, type OutputStreamName, type StoredChunk, type TaskOutputStore } from '../tasks/output.ts'

export class ClusterTaskOutputs implements TaskOutputStore {
  /** Each task's appends not yet committed, chained. */
  private readonly pending = new Map<string, Promise<void>>()

  constructor(private readonly sql: Sql, private readonly log: Logger) {}

  append(taskId: string, stream: OutputStreamName, data: string, dropped: number): void {
    const before = this.pending.get(taskId) ?? Promise.resolve()
    const next = before.then(() => this.write(taskId, stream, data, dropped)).catch((err) => {
      this.log.warn('task output not stored', { task_id: taskId, error: String(err) })
    })
    this.pending.set(taskId, next)
    void next.then(() => {
      if (this.pending.get(taskId) === next) this.pending.delete(taskId)
    })
  }

  private async write(taskId: string, stream: OutputStreamName, data: string, dropped: number): Promise<void> {
    const sql = this.sql
    await sql`INSERT INTO task_output (task_id, stream, data, bytes)
      VALUES (${taskId}, ${stream}, ${data}, octet_length(${data}::text))`
    // The newest chunks whose bytes fit stay; older ones go, and the output is truncated.
    await sql`
      WITH over AS (
        SELECT id FROM (SELECT id, sum(bytes) OVER (ORDER BY id DESC) AS newer FROM task_output WHERE task_id = ${taskId}) x
        WHERE newer > ${MAX_OUTPUT_BYTES}),
      gone AS (DELETE FROM task_output WHERE id IN (SELECT id FROM over) RETURNING id)
      UPDATE tasks SET output_truncated = true
      WHERE task_id = ${taskId} AND NOT output_truncated AND (${dropped > 0} OR EXISTS (SELECT 1 FROM gone))`
  }

  async read(taskId: string, afterSeq: number): Promise<OutputRead> {
    const sql = this.sql
    const chunks = await sql<{ seq: string; stream: OutputStreamName; data: string; at: number }[]>`
      SELECT id::text AS seq, stream, data, epoch_ms(at) AS at FROM task_output
      WHERE task_id = ${taskId} AND id > ${afterSeq} ORDER BY id`
    const [task] = await sql<{ output_truncated: boolean }[]>`SELECT output_truncated FROM tasks WHERE task_id = ${taskId}`
    return {
      chunks: chunks.map((c): StoredChunk => ({ seq: Number(c.seq), stream: c.stream, data: c.data, at: c.at })),
      truncated: task?.output_truncated ?? false,
    }
  }

  written(taskId: string): Promise<void> {
    return this.pending.get(taskId) ?? Promise.resolve()
  }
}
