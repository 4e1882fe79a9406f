/**
 * What the task engine asks of wherever tasks are kept: named operations, each resolved once its
 * change is durable (CONTRACT.md, "One engine, two stores (v3)"), as rollouts' RolloutStore
 * (hub/rollouts/rollout-store.ts). Each operation checks its own condition where the task is kept
 * (PostgreSQL: in its statement, on the row it locks), so two hubs acting on one task at once do
 * it once; what it decides it decides by hub/tasks/rules.ts (requeueVerdict, outcomeVerdict).
 *
 * Implemented twice, held to one suite (support/task-queue-store-conformance.ts): the cluster's
 * rows (hub/pg/pg-task-store.ts) and one hub's memory saved to its data dir
 * (memory-task-queue-store.ts), which one hub's tasks run on (hub-task-owner.ts).
 */
import type { TaskRecord } from './task-options.ts'
import type { TaskExtras, TaskStatus, TasksQuery } from './rules.ts'

/** A task as the store answers it (the cluster's rows carry more: the hub that assigned it, its deadline). */
export type KeptTask = TaskRecord

export interface NewTaskRequest {
  task_id: string
  input: unknown
  /** Only this agent may take the task; null: any agent. */
  pinned: string | null
  timeout_ms: number
  extras?: TaskExtras
}

/** An agent's outcome as the store takes it: the result limit already applied (rules.ts outcomeVerdict). */
export type StoredOutcome = { ok: true; result: unknown } | { ok: false; error: string }

/** An accept not saved because its outcome came before it was written, and was saved in its place. */
export const SUPERSEDED = Symbol('superseded by its outcome')

export interface TaskQueueStore<T extends KeptTask = KeptTask> {
  /** The task, queued (every claimer told); rejects, nothing inserted, at the queue's cap (AGENTCOM_MAX_QUEUED_TASKS). */
  insert(task: NewTaskRequest): Promise<T>
  get(taskId: string): Promise<T | null>
  /**
   * Gives queued tasks to as many of `agents` as may run one (the oldest each may run, to the
   * first in the order given): no task to two agents, no agent two tasks, however many claim at
   * once. `moreQueued`: a task was queued beside those claimed.
   */
  claim(agents: readonly string[]): Promise<{ tasks: T[]; moreQueued: boolean }>
  /** The agent accepted its assignment: `working`. Null when the task was not its own (any more). */
  start(taskId: string, agentId: string): Promise<T | null | typeof SUPERSEDED>
  /**
   * The agent's outcome, stored once (rules.ts outcomeVerdict: a failure with retries left is
   * queued again): the task as it is now, or null when the report did not apply (not the agent
   * the task was last given to, or finished). `superseded`: its accept, unsaved, was dropped for it.
   */
  complete(taskId: string, agentId: string, outcome: StoredOutcome): Promise<{ task: T | null; superseded: boolean }>
  /**
   * Takes the task back from `agentId` (rules.ts requeueVerdict; `counted`: countsAsAttempt):
   * queued again, or failed after its attempts. Null when `agentId` no longer held it.
   */
  requeue(taskId: string, agentId: string, counted: boolean): Promise<T | null>
  /**
   * Cancels a task that has not finished (rules.ts cancelVerdict): the task as it is now and the
   * status it had (in flight: its agent is to be told to stop it). Null when the task is unknown
   * or already finished (get tells which). A cancelled task is final: no report changes it.
   */
  cancel(taskId: string): Promise<{ task: T; was: TaskStatus } | null>
  /** The agent identified still holding `taskId`: it runs on here. False: it may not keep it. */
  adopt(taskId: string, agentId: string): Promise<boolean>
  /** The tasks in flight on `agentId` (normally at most one). */
  heldBy(agentId: string): Promise<T[]>
  /** Tasks this hub dispatched, in flight past their deadline by more than `graceMs` (oldest deadline first). */
  overdue(graceMs: number): Promise<T[]>
  /** Tasks in flight on agents with no live connection for longer than `graceMs`. */
  orphaned(graceMs: number): Promise<T[]>
  /** Forgets finished tasks past the newest `keep`; how many went. */
  prune(keep: number): Promise<number>
  /**
   * GET /api/admin/tasks: newest first by creation, filtered, one page; `next_cursor` (the last
   * one's place in creation order) continues below it, null on the last page.
   */
  list(query: TasksQuery): Promise<{ tasks: T[]; next_cursor: string | null }>
}

/**
 * A store whose operations change the tasks in memory at once (one hub's,
 * memory-task-queue-store.ts): the engine (hub/tasks/task-engine.ts) acts on the answer in
 * the same step, with no round trip, and waits for durable() only where the contract asks for the
 * save first (an assignment is sent, an outcome acknowledged, once saved). Each `...Now` keeps the
 * condition and rule of the operation it is named after; its answer is the record as held, not a
 * copy: read it at once, change it never.
 */
export interface ImmediateTaskOps<T extends KeptTask = KeptTask> {
  claimNow(agents: Iterable<string>): { tasks: T[]; moreQueued: boolean }
  startNow(taskId: string, agentId: string): T | null
  completeNow(taskId: string, agentId: string, outcome: StoredOutcome): T | null
  requeueNow(taskId: string, agentId: string, counted: boolean): T | null
  cancelNow(taskId: string): { task: T; was: TaskStatus } | null
  adoptNow(taskId: string, agentId: string): boolean
  /** heldBy's tasks, as held: a new array (a change to one of them does not change it). */
  heldByNow(agentId: string): T[]
  /** The task as held now, saved or not. */
  peek(taskId: string): Readonly<T> | undefined
  /** Tasks queued (waiting for an agent or a retry's delay). */
  readonly queuedCount: number
  /** The clock its rules read (a retry's run_after, deadlines): epoch ms. */
  now(): number
  /** Resolves once every change so far is saved; rejects when that save failed. */
  durable(): Promise<void>
}
