/**
 * The rows this hub's task changes left (cluster mode), kept from the statement that made each
 * change (its RETURNING) until the events stream turns the change into an event
 * (hub/cluster/cluster-events.ts), which then need not read the row again: that read was about two
 * statements per task under the cluster_task_throughput load. A change that came without its
 * row drops an older one, so an event never shows a state the task has left. A row already
 * taken for an event is kept, marked: a later change of the task whose row an earlier write
 * already showed (two changes, one row, two writes) has nothing new to show, and needs no read.
 */
import type { KeptTask } from '../tasks/task-queue-store.ts'
import { isFinished, type TaskStatus } from '../tasks/rules.ts'

/** Rows kept at most; past it the oldest go (their events read the row, as without this). */
const MAX_ROWS = 10_000

const isFinal = (status: TaskStatus | undefined) => status !== undefined && isFinished(status)

export class TaskRows<TaskRow extends KeptTask = KeptTask> {
  private readonly rows = new Map<string, { row: TaskRow; shown: boolean }>()

  /** The task changed; `row` is how that change left it, if known. */
  note(taskId: string, row: TaskRow | undefined): void {
    // A finished task changes no more: a row of before that comes in late (an accept's, whose
    // statement raced the outcome's on another connection) is older, whatever the order here.
    if (row && isFinal(this.rows.get(taskId)?.row.status) && !isFinal(row.status)) return
    this.rows.delete(taskId)
    if (!row) return
    this.rows.set(taskId, { row, shown: false })
    if (this.rows.size > MAX_ROWS) this.rows.delete(this.rows.keys().next().value!)
  }

  /**
   * The row the task's last change left, if known (undefined: read it); null when an earlier
   * take already had it for an event (nothing new to show).
   */
  take(taskId: string): TaskRow | null | undefined {
    const kept = this.rows.get(taskId)
    if (!kept) return undefined
    if (kept.shown) return null
    kept.shown = true
    return kept.row
  }
}
