/**
 * The tasks waiting for an agent, in order, and handing them out (the task board's queue,
 * tasks.ts). Dispatch runs once per tick however many things made an agent free. "Free"
 * (connected, idle, not drained, no restart pending) is read from the fleet's available set and
 * the assignment is made in the same synchronous step, so no restart can slip in between.
 */
import { hasLabels } from '../../shared/labels.ts'
import type { AgentRecord, Fleet } from '../agents/fleet.ts'
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
  /** The queue is ids[head..]: a pass drops what it handed out from the front without copying the rest. */
  private ids: string[] = []
  private head = 0
  private scheduled = false

  constructor(private readonly d: DispatchDeps) {}

  /** Entries in the queue (a cancelled task's stays until the next pass drops it). */
  get length(): number {
    return this.ids.length - this.head
  }

  /** Tasks waiting for an agent, exactly (GET /metrics, at scrape time: it walks the queue). */
  get waiting(): number {
    return [...new Set(this.ids.slice(this.head))].filter((id) => this.d.task(id)?.status === 'queued').length
  }

  /** Last in line (new, or a retry). */
  push(taskId: string): void {
    this.ids.push(taskId)
  }

  /** First in line (a task run again after an interruption). */
  unshift(taskId: string): void {
    if (this.head > 0) this.ids[--this.head] = taskId
    else this.ids.unshift(taskId)
  }

  remove(taskId: string): void {
    this.ids = this.ids.slice(this.head).filter((id) => id !== taskId)
    this.head = 0
  }

  schedule(): void {
    if (this.scheduled || this.length === 0) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      this.dispatch()
    })
  }

  /**
   * Gives queued tasks to free agents; the rest keep their place. A pass stops once no agent is
   * free, so it costs the tasks it looked at, not the whole queue: one pass runs per agent freed.
   */
  dispatch(): void {
    const available = this.d.fleet.available
    const ids = this.ids
    const now = this.d.now()
    // Entries kept are written back over those looked at, from the end of that stretch.
    const kept: string[] = []
    let at = this.head
    for (; at < ids.length && available.size > 0; at++) {
      const taskId = ids[at]
      const task = this.d.task(taskId)
      if (!task || task.status !== 'queued') continue
      // A retry waiting for its delay (a timer dispatches again then).
      const ready = task.run_after === null || task.run_after <= now
      const agentId = !ready ? undefined : task.pinned ?? this.firstWith(available, task.labels)
      const rec = agentId !== undefined && available.has(agentId) ? this.d.fleet.get(agentId) : undefined
      if (rec && hasLabels(rec.labels, task.labels)) this.d.assign(task, rec)
      else kept.push(taskId)
    }
    this.head = at - kept.length
    for (let i = 0; i < kept.length; i++) ids[this.head + i] = kept[i]
    // What was handed out stays in the array's front until it is most of it.
    if (this.head > 1024 && this.head * 2 > ids.length) {
      this.ids = ids.slice(this.head)
      this.head = 0
    }
  }

  /** The first free agent carrying every one of `labels`. */
  private firstWith(available: ReadonlySet<string>, labels: readonly string[]): string | undefined {
    for (const agentId of available) {
      if (labels.length === 0 || hasLabels(this.d.fleet.get(agentId)?.labels ?? [], labels)) return agentId
    }
    return undefined
  }
}
