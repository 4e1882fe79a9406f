/**
 * The tasks waiting for an agent, in order, and handing them out (the task board's queue,
 * tasks.ts). Dispatch runs once per tick however many things made an agent free. "Free"
 * (connected, idle, not drained, no restart pending) is read from the fleet's available set and
 * the assignment is made in the same synchronous step, so no restart can slip in between.
 */
import { hasLabels } from '../shared/labels.ts'
import type { AgentRecord, Fleet } from './fleet.ts'
import type { TaskRecord } from './task-options.ts'

export interface DispatchDeps {
  fleet: Fleet
  /** The board's record of a task, if it still has one. */
  task(taskId: string): TaskRecord | undefined
  now(): number
  /** Gives `task` to `rec` (the board's assignment rule). */
  assign(task: TaskRecord, rec: AgentRecord): void
}

export class DispatchQueue {
  private ids: string[] = []
  private scheduled = false

  constructor(private readonly d: DispatchDeps) {}

  /** Entries in the queue (a cancelled task's stays until the next pass drops it). */
  get length(): number {
    return this.ids.length
  }

  /** Tasks waiting for an agent, exactly (GET /metrics, at scrape time: it walks the queue). */
  get waiting(): number {
    return [...new Set(this.ids)].filter((id) => this.d.task(id)?.status === 'queued').length
  }

  /** Last in line (new, or a retry). */
  push(taskId: string): void {
    this.ids.push(taskId)
  }

  /** First in line (a task run again after an interruption). */
  unshift(taskId: string): void {
    this.ids.unshift(taskId)
  }

  remove(taskId: string): void {
    this.ids = this.ids.filter((id) => id !== taskId)
  }

  schedule(): void {
    if (this.scheduled || this.ids.length === 0) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      this.dispatch()
    })
  }

  /** Gives queued tasks to free agents; the rest keep their place. */
  dispatch(): void {
    const available = this.d.fleet.available
    if (available.size === 0) return
    const waiting: string[] = []
    const now = this.d.now()
    for (const taskId of this.ids) {
      const task = this.d.task(taskId)
      if (!task || task.status !== 'queued') continue
      // A retry waiting for its delay (a timer dispatches again then).
      const ready = task.run_after === null || task.run_after <= now
      const agentId = !ready ? undefined : task.pinned ?? this.firstWith(available, task.labels)
      const rec = agentId !== undefined && available.has(agentId) ? this.d.fleet.get(agentId) : undefined
      if (rec && hasLabels(rec.labels, task.labels)) this.d.assign(task, rec)
      else waiting.push(taskId)
    }
    this.ids = waiting
  }

  /** The first free agent carrying every one of `labels`. */
  private firstWith(available: ReadonlySet<string>, labels: readonly string[]): string | undefined {
    for (const agentId of available) {
      if (labels.length === 0 || hasLabels(this.d.fleet.get(agentId)?.labels ?? [], labels)) return agentId
    }
    return undefined
  }
}
