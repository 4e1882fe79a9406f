/**
 * The rows this hub's task changes left (cluster mode), kept from the statement that made each
 * change (its RETURNING) until the events stream turns the change into an event
 * (hub/cluster/events.ts), which then need not read the row again: that read was about two
 * statements per task under the cluster_task_throughput load. A change that came without its
 * row drops an older one, so an event never shows a state the task has left.
 */
import type { TaskRow } from '../pg/task-queue.ts'
import { isFinished } from '../tasks/rules.ts'

/** Rows kept at most; past it the oldest go (their events read the row, as without this). */
const MAX_ROWS = 10_000

const isFinal = (status: TaskRow['status'] | undefined) => status !== undefined && isFinished(status)

export class TaskRows {
  private readonly rows = new Map<string, TaskRow>()

  /** The task changed; `row` is how that change left it, if known. */
  note(taskId: string, row: TaskRow | undefined): void {
    // A finished task changes no more: a row of before that comes in late (an accept's, whose
    // statement raced the outcome's on another connection) is older, whatever the order here.
    if (row && isFinal(this.rows.get(taskId)?.status) && !isFinal(row.status)) return
    this.rows.delete(taskId)
    if (!row) return
    this.rows.set(taskId, row)
    if (this.rows.size > MAX_ROWS) this.rows.delete(this.rows.keys().next().value!)
  }

  /** The row the task's last change left, once, if known. */
  take(taskId: string): TaskRow | undefined {
    const row = this.rows.get(taskId)
    this.rows.delete(taskId)
    return row
  }
}
