/**
 * The admin API's task answers (create, fan out, read, list, cancel), as the hub's one task
 * owner (hub-task-owner.ts) gives them over whichever store keeps its tasks: one hub's memory
 * (memory-task-admin.ts) or a cluster's rows (hub/pg/pg-task-admin.ts). Each resolves once its
 * change is durable; hub/api/admin.ts fills in defaults and makes the views.
 */
import type { TaskFacts } from '../api/views.ts'
import type { TaskExtras, TasksQuery } from './rules.ts'
import type { KeptTask } from './task-queue-store.ts'

/** A task to insert, every default filled in (hub/api/admin.ts). */
export interface NewTask {
  input: unknown
  /** Only this agent may run it; null: any agent. */
  pinned: string | null
  timeout_ms: number
  extras: TaskExtras
}

export type CancelOutcome = { ok: true; task: TaskFacts } | { ok: false; error: 'task_not_found' | 'task_finished' }

export interface TaskAdmin {
  /**
   * Inserts the task (503 queue_full past AGENTCOM_MAX_QUEUED_TASKS); resolves once it is saved,
   * with the task as inserted (it may be dispatched before the answer goes out).
   */
  insert(task: NewTask): Promise<TaskFacts>
  /**
   * One task pinned to each agent connected, undrained, not quarantined and carrying every label
   * of `task.extras.labels`, at this moment: all or none (the queue cap counts them all).
   */
  insertForAll(task: Omit<NewTask, 'pinned'>): Promise<TaskFacts[]>
  get(taskId: string): Promise<TaskFacts | null>
  /** Newest first (rules.ts, TasksQuery). */
  list(query: TasksQuery): Promise<{ tasks: TaskFacts[]; next_cursor: string | null }>
  /** Cancels a task not yet finished (the agent running it is told); resolves once saved. */
  cancel(taskId: string): Promise<CancelOutcome>
}

/** What a shared store's task answers are opened with: this hub's ids and its engine, told of the changes made here. */
export interface TaskAdminHere {
  newId(): string
  /** A task changed here (the row as written, for its event). */
  changed(taskId: string, row?: KeptTask): void
  /** A task in flight on an agent this hub holds was cancelled: tell the agent to stop it. */
  cancelHere(agentId: string, taskId: string): void
}
