/**
 * The saves of agents' task reports in cluster mode, batched (hub/pg/write-batch.ts): every
 * accept and outcome that comes in while a batch is being written goes out in the next, one
 * statement and one commit (hub/pg/task-reports.ts). An accept still waiting to be sent when its
 * task's outcome comes is not saved at all: the outcome's save takes its place, from `assigned`
 * straight to its end, as a task whose events fell into one write already showed it. Measured
 * under the cluster_task_throughput load, an accept and its outcome were two commits, the
 * outcome's often waiting on the accept's row lock, and the accept lost that race to the outcome
 * about two times in five (its row then read again).
 */
import type { Logger } from '../../shared/log.ts'
import { isDataError, type Sql } from './connect.ts'
import type { Outcome, TaskRow } from './task-queue.ts'
import { finishTask, saveTaskReports, saveTaskReportsOneByOne, type TaskReport } from './task-reports.ts'
import { WriteBatch } from './write-batch.ts'
import { SUPERSEDED } from '../tasks/task-queue-store.ts'

/** An accept not saved because its outcome came first (and is saved in its place). */


type Saved = TaskRow | null | Error | typeof SUPERSEDED

export class ReportBatch {
  private readonly batch: WriteBatch<TaskReport, Saved>

  constructor(private readonly d: { sql: Sql; log: Logger }) {
    this.batch = new WriteBatch<TaskReport, Saved>({
      keyOf: (report) => report.task_id,
      write: (reports) => saveTaskReports(d.sql, reports).catch((err: unknown) => {
        // Refused as data (text no column can hold): each on its own, so only that one fails.
        if (!isDataError(err)) throw err
        return saveTaskReportsOneByOne(d.sql, reports)
      }),
    })
  }

  /** Saves the agent's accept: the task as it is now, null when it was not the agent's, or SUPERSEDED. */
  async accept(taskId: string, agentId: string): Promise<TaskRow | null | typeof SUPERSEDED> {
    return settled(await this.batch.add({ kind: 'accept', task_id: taskId, agent_id: agentId }))
  }

  /**
   * Saves the agent's outcome (task-reports.ts finishTask's rule): the task as it is now, or null.
   * `merged`: the task's accept, still unsent, was dropped for it.
   */
  async finish(taskId: string, agentId: string, outcome: Outcome): Promise<{ row: TaskRow | null; merged: boolean }> {
    const merged = this.batch.takeBack((r) => r.kind === 'accept' && r.task_id === taskId, SUPERSEDED) > 0
    try {
      const row = settled(await this.batch.add({ kind: 'finish', task_id: taskId, agent_id: agentId, outcome }))
      return { row: row === SUPERSEDED ? null : row, merged }
    } catch (err) {
      // An outcome the database refuses as data (SQLSTATE class 22; a safety net where a result is
      // any JSON) would be retried forever: the task fails with why instead. Anything else (the
      // database away) is retried.
      if (!isDataError(err)) throw err
      this.d.log.warn('task outcome cannot be stored; failing the task', { task_id: taskId, code: String(err.code) })
      const error = `result cannot be stored: ${(err as unknown as Error).message}`.slice(0, 500)
      return { row: await finishTask(this.d.sql, taskId, agentId, { ok: false, error }), merged }
    }
  }
}

function settled<T>(saved: T | Error): T {
  if (saved instanceof Error) throw saved
  return saved
}
