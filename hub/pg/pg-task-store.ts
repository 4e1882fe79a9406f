/**
 * The cluster's TaskQueueStore (hub/tasks/task-queue-store.ts) over the rows of task-queue.ts:
 * each operation is a statement (or a transaction) that checks its own condition on the row, so
 * however many hubs act on a task at once it changes once. The writes that come with every task
 * are group-committed: creations (task-insert-batch.ts) and agents' reports (task-report-batch.ts).
 * What a requeue and a failure do is hub/tasks/rules.ts's, decided on the row held locked.
 */
import type { Logger } from '../../shared/log.ts'
import { inTransaction, type Sql } from './connect.ts'
import { ALL_HUBS, type PgBus } from './notify-bus.ts'
import { assertQueueRoom } from './queue-cap-rows.ts'
import { createTaskInserts, type TaskInserts } from './task-insert-batch.ts'
import {
  adoptTask, cancelTask, claimTasks, getTask, insertTask, listTasks, orphanedTasks, overdueTasks, pruneFinishedTasks, requeueTask, tasksHeldBy,
  type TaskRow,
} from './task-queue.ts'
import { ReportBatch } from './task-report-batch.ts'
import type { NewTaskRequest, StoredOutcome, TaskQueueStore } from '../tasks/task-queue-store.ts'
import { SUPERSEDED } from '../tasks/task-queue-store.ts'
import type { TaskStatus, TasksQuery } from '../tasks/rules.ts'

/** Bus message: queued work may be waiting (a new task, or one queued again). */
export const TASKS_NUDGE = { kind: 'tasks' } as const

export interface PgTaskStoreDeps {
  sql: Sql
  bus: PgBus
  hubId: string
  log: Logger
  /** A task taken back this many times fails (AGENTCOM_MAX_TASK_ATTEMPTS). */
  maxAttempts: number
  /** AGENTCOM_MAX_QUEUED_TASKS over the whole cluster's queue (pg/queue-cap.ts). Default: no cap. */
  maxQueuedTasks?: number
}

export class PgTaskStore implements TaskQueueStore<TaskRow> {
  private readonly inserts: TaskInserts
  private readonly reports: ReportBatch

  constructor(private readonly d: PgTaskStoreDeps) {
    this.inserts = createTaskInserts(d.sql, { maxQueued: d.maxQueuedTasks, hubId: d.bus.hubId })
    this.reports = new ReportBatch({ sql: d.sql, log: d.log })
  }

  /** Committed with a nudge to every hub to try its free agents; rejects (QueueFull) at the cap. */
  async insert(task: NewTaskRequest): Promise<TaskRow> {
    const { sql, bus } = this.d
    // One statement far from the queue cap, with the others that came meanwhile (task-insert-batch.ts);
    // near it, serialized with the other hubs'.
    return await this.inserts.insert(task) ?? await inTransaction(sql, async (tx) => {
      if (this.d.maxQueuedTasks !== undefined) await assertQueueRoom(tx, this.d.maxQueuedTasks)
      const added = await insertTask(tx, task)
      await bus.publish(ALL_HUBS, { ...TASKS_NUDGE }, tx)
      return added
    })
  }

  get(taskId: string): Promise<TaskRow | null> {
    return getTask(this.d.sql, taskId)
  }

  async claim(agents: readonly string[]): Promise<{ tasks: TaskRow[]; moreQueued: boolean }> {
    const { rows, more_queued } = await claimTasks(this.d.sql, agents, this.d.hubId)
    return { tasks: rows, moreQueued: more_queued }
  }

  async start(taskId: string, agentId: string): Promise<TaskRow | null | typeof SUPERSEDED> {
    return this.reports.accept(taskId, agentId)
  }

  async complete(taskId: string, agentId: string, outcome: StoredOutcome): Promise<{ task: TaskRow | null; superseded: boolean }> {
    const { row, merged } = await this.reports.finish(taskId, agentId, outcome)
    return { task: row, superseded: merged }
  }

  requeue(taskId: string, agentId: string, counted: boolean): Promise<TaskRow | null> {
    return requeueTask(this.d.sql, taskId, { agentId, maxAttempts: this.d.maxAttempts, counted })
  }

  async cancel(taskId: string): Promise<{ task: TaskRow; was: TaskStatus } | null> {
    const done = await cancelTask(this.d.sql, taskId)
    return done && { task: done.row, was: done.was }
  }

  adopt(taskId: string, agentId: string): Promise<boolean> {
    return adoptTask(this.d.sql, taskId, agentId, this.d.hubId)
  }

  heldBy(agentId: string): Promise<TaskRow[]> {
    return tasksHeldBy(this.d.sql, agentId)
  }

  overdue(graceMs: number): Promise<TaskRow[]> {
    return overdueTasks(this.d.sql, graceMs, this.d.hubId)
  }

  orphaned(graceMs: number): Promise<TaskRow[]> {
    return orphanedTasks(this.d.sql, graceMs)
  }

  prune(keep: number): Promise<number> {
    return pruneFinishedTasks(this.d.sql, keep)
  }

  async list(query: TasksQuery): Promise<{ tasks: TaskRow[]; next_cursor: string | null }> {
    const rows = await listTasks(this.d.sql, { status: query.status, agentId: query.agent_id, before: query.cursor, limit: query.limit })
    const page = rows.slice(0, query.limit)
    return {
      tasks: page.map(({ seq: _, ...row }) => row as TaskRow),
      next_cursor: rows.length > query.limit ? page[page.length - 1].seq : null,
    }
  }
}
