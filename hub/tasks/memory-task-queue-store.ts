/**
 * One hub's TaskQueueStore (task-queue-store.ts): the tasks in memory, every change saved to the
 * data dir through the task table and its journal (task-table.ts, task-journal.ts) before the
 * operation answers. Each operation keeps the condition and rule of its PostgreSQL statement
 * (hub/pg/task-queue.ts), by rules.ts; support/task-queue-store-conformance.ts holds both to the
 * same cases. The agents' side is the fleet's (TaskAgents), as the statements read the agents'
 * rows. Its `...Now` operations (ImmediateTaskOps) change the same at once: one hub's fast path.
 */
import { QueueFull } from '../security/queue-cap.ts'
import type { StorageHealth } from '../store/persister.ts'
import {
  TASK_EXTRAS_DEFAULTS, cancelVerdict, isFinished, isInFlight, outcomeVerdict, pageTasks, requeueVerdict, takesReportFrom, type TaskStatus, type TasksQuery,
} from './rules.ts'
import { SeqQueue } from './seq-queue.ts'
import type { TaskRecord } from './task-options.ts'
import type { ImmediateTaskOps, NewTaskRequest, StoredOutcome, TaskQueueStore } from './task-queue-store.ts'
import type { StoredTask } from './task-store.ts'
import type { MemoryTaskQueueStoreDeps } from './memory-task-queue-deps.ts'
import { TaskTable } from './task-table.ts'
import { WaitingAgents } from './waiting-agents.ts'

export type { MemoryTaskQueueStoreDeps, TaskAgents } from './memory-task-queue-deps.ts'

/** An answer's copy, made as the operation left the task (a later change does not show in it). */
const copyOf = (task: TaskRecord | null): TaskRecord | null => task && { ...task }

/** Tasks overdue() and orphaned() answer at most, as the cluster's statements (task-queue.ts). */
const SWEEP_LIMIT = 100

export class MemoryTaskQueueStore implements TaskQueueStore<TaskRecord>, ImmediateTaskOps<TaskRecord> {
  private readonly table: TaskTable
  private readonly queue: SeqQueue
  /** Tasks in flight (assigned, working), by agent: the cluster's `tasks_by_agent` index. */
  private readonly held = new Map<string, Set<string>>()
  /** Each unfinished task's last agent (the rows' last_agent_id): the only one whose late report counts. */
  private readonly lastAgent = new Map<string, string>()

  constructor(private readonly d: MemoryTaskQueueStoreDeps) {
    this.table = new TaskTable({
      log: d.log, now: d.now, maxFinished: d.maxFinished, store: d.store, storeRetryMs: d.storeRetryMs,
      onForget: (ids) => {
        for (const id of ids) this.lastAgent.delete(id)
        d.onForget?.(ids)
      },
    })
    this.queue = new SeqQueue((id) => this.table.seqOf(id) ?? Infinity)
  }

  /** Loads what a previous hub saved: queued tasks queued, those in flight held by their agents. */
  restore(stored: readonly StoredTask[]): void {
    for (const s of stored) {
      const task: TaskRecord = { ...TASK_EXTRAS_DEFAULTS, retried: 0, run_after: null, ...s }
      this.table.add(task)
      if (task.status === 'queued') this.queue.add(task.task_id)
      else if (isFinished(task.status)) this.table.retire(task)
      else if (task.agent_id !== null) {
        this.hold(task.agent_id, task.task_id)
        this.lastAgent.set(task.task_id, task.agent_id)
      }
    }
  }

  /** Queued, then saved; rejects (QueueFull, nothing kept) at the cap, or when it could not be saved (then it is gone). */
  async insert(request: NewTaskRequest): Promise<TaskRecord> {
    const max = this.d.maxQueuedTasks
    if (max !== undefined && this.queue.size >= max) throw new QueueFull(max)
    const now = this.d.now()
    const task: TaskRecord = {
      task_id: request.task_id, status: 'queued', input: request.input, pinned: request.pinned, agent_id: request.pinned,
      attempts: 0, result: null, error: null, timeout_ms: request.timeout_ms, created_at: now, updated_at: now, assigned_at: null,
      ...TASK_EXTRAS_DEFAULTS, ...request.extras, retried: 0, run_after: null,
    }
    this.table.add(task)
    this.queue.add(task.task_id)
    try {
      await this.table.durable()
    } catch (err) {
      // Nothing ran it and no one saw it: forget it, and the next save leaves it out.
      if (this.table.get(task.task_id) === task && task.status === 'queued') {
        this.queue.delete(task.task_id)
        this.table.remove(task.task_id)
      }
      throw err
    }
    return { ...task }
  }

  get(taskId: string): Promise<TaskRecord | null> {
    return this.answer(copyOf(this.table.get(taskId) ?? null))
  }

  async claim(agents: readonly string[]): Promise<{ tasks: TaskRecord[]; moreQueued: boolean }> {
    const claimed = this.claimNow(agents)
    try {
      await this.table.durable()
    } catch (err) {
      // Not on disk, so never sent: given back, as a claim whose commit failed took nothing.
      for (const task of claimed.tasks) this.takeBack(task, task.agent_id!, false)
      throw err
    }
    return { tasks: claimed.tasks.map((task) => ({ ...task })), moreQueued: claimed.moreQueued }
  }

  /**
   * claim's change, made at once: the tasks as held (not copies), assigned in memory, on disk
   * once durable() resolves. A caller whose save fails gives them back (requeueNow, not counted).
   */
  claimNow(agents: Iterable<string>): { tasks: TaskRecord[]; moreQueued: boolean } {
    if (this.queue.size === 0) return { tasks: [], moreQueued: false }
    const waiting = new WaitingAgents(agents, (agentId) => this.held.get(agentId)?.size ? null : this.d.agents.claimable(agentId))
    const queuedBefore = this.queue.size
    const now = this.d.now()
    const picks: Array<[TaskRecord, string]> = []
    // One pass in queue order is the cluster's claim repeated: a task no agent left could run
    // before an agent was given one, none of the fewer left can run either.
    for (const taskId of this.queue) {
      const task = this.table.get(taskId)!
      if (task.status !== 'queued' || (task.run_after !== null && task.run_after > now)) continue
      const agentId = waiting.take(task)
      if (agentId === undefined) continue
      picks.push([task, agentId])
      if (waiting.empty) break
    }
    for (const [task, agentId] of picks) {
      this.queue.delete(task.task_id)
      Object.assign(task, { status: 'assigned', agent_id: agentId, attempts: task.attempts + 1, assigned_at: now, updated_at: now, run_after: null })
      this.lastAgent.set(task.task_id, agentId)
      this.hold(agentId, task.task_id)
      this.table.changed(task)
    }
    return { tasks: picks.map(([task]) => task), moreQueued: picks.length > 0 && queuedBefore > picks.length }
  }

  start(taskId: string, agentId: string): Promise<TaskRecord | null> {
    return this.answer(copyOf(this.startNow(taskId, agentId)))
  }

  /** start's change, made at once: the task as held, or null (not its own). */
  startNow(taskId: string, agentId: string): TaskRecord | null {
    const task = this.table.get(taskId)
    if (task?.status !== 'assigned' || task.agent_id !== agentId) return null
    this.change(task, { status: 'working' })
    return task
  }

  complete(taskId: string, agentId: string, outcome: StoredOutcome): Promise<{ task: TaskRecord | null; superseded: boolean }> {
    return this.answer({ task: copyOf(this.completeNow(taskId, agentId, outcome)), superseded: false })
  }

  /** complete's change, made at once: the task as held, or null (the report did not apply). */
  completeNow(taskId: string, agentId: string, outcome: StoredOutcome): TaskRecord | null {
    const task = this.table.get(taskId)
    if (task === undefined || !takesReportFrom(task, this.lastAgent.get(taskId), agentId)) return null
    const verdict = outcome.ok ? { status: 'completed' as const } : outcomeVerdict(task, { kind: 'failed', error: outcome.error })
    const queued = verdict.status === 'queued'
    this.queue.delete(taskId)
    this.letGo(task)
    this.change(task, {
      status: verdict.status, agent_id: queued ? task.pinned : agentId,
      run_after: queued ? this.d.now() + verdict.delayMs : null, retried: queued ? task.retried + 1 : task.retried,
      assigned_at: queued ? null : task.assigned_at,
      result: outcome.ok ? outcome.result ?? null : null, error: outcome.ok ? null : outcome.error,
    })
    this.settle(task)
    return task
  }

  requeue(taskId: string, agentId: string, counted: boolean): Promise<TaskRecord | null> {
    return this.answer(copyOf(this.requeueNow(taskId, agentId, counted)))
  }

  /** requeue's change, made at once: the task as held, or null (`agentId` no longer held it). */
  requeueNow(taskId: string, agentId: string, counted: boolean): TaskRecord | null {
    const task = this.table.get(taskId)
    if (task === undefined || !isInFlight(task.status) || task.agent_id !== agentId) return null
    this.takeBack(task, agentId, counted)
    return task
  }

  cancel(taskId: string): Promise<{ task: TaskRecord; was: TaskStatus } | null> {
    const done = this.cancelNow(taskId)
    return this.answer(done && { task: { ...done.task }, was: done.was })
  }

  /** cancel's change, made at once: the task as held and the status it had, or null (unknown or finished). */
  cancelNow(taskId: string): { task: TaskRecord; was: TaskStatus } | null {
    const task = this.table.get(taskId)
    if (task === undefined || cancelVerdict(task.status) === 'finished') return null
    const was = task.status
    this.queue.delete(taskId)
    this.letGo(task)
    this.change(task, { status: 'cancelled', run_after: null })
    this.settle(task)
    return { task, was }
  }

  adopt(taskId: string, agentId: string): Promise<boolean> {
    return this.answer(this.adoptNow(taskId, agentId))
  }

  adoptNow(taskId: string, agentId: string): boolean {
    const task = this.table.get(taskId)
    const applies = task !== undefined && (isInFlight(task.status) ? task.agent_id === agentId
      : task.status === 'queued' && task.run_after === null && this.lastAgent.get(taskId) === agentId)
    if (applies) {
      this.queue.delete(taskId)
      this.letGo(task)
      this.change(task, { status: 'working', agent_id: agentId, assigned_at: task.assigned_at ?? this.d.now() })
      this.lastAgent.set(taskId, agentId)
      this.hold(agentId, taskId)
    }
    return applies
  }

  heldBy(agentId: string): Promise<TaskRecord[]> {
    return this.answer(this.heldByNow(agentId).map((task) => ({ ...task })))
  }

  heldByNow(agentId: string): TaskRecord[] {
    return this.bySeq([...this.held.get(agentId) ?? []])
  }

  overdue(graceMs: number): Promise<TaskRecord[]> {
    const cutoff = this.d.now() - graceMs
    const deadline = (task: TaskRecord) => task.assigned_at! + task.timeout_ms
    const late = this.inFlight().filter((task) => task.assigned_at !== null && deadline(task) <= cutoff)
    return this.answer(late.sort((a, b) => deadline(a) - deadline(b)).slice(0, SWEEP_LIMIT).map((task) => ({ ...task })))
  }

  orphaned(graceMs: number): Promise<TaskRecord[]> {
    const cutoff = this.d.now() - graceMs
    const lost = this.inFlight().filter((task) => {
      const gone = task.agent_id === null ? undefined : this.d.agents.goneSince(task.agent_id)
      return gone !== null && (gone ?? task.updated_at) <= cutoff
    })
    return this.answer(this.bySeq(lost.map((task) => task.task_id)).slice(0, SWEEP_LIMIT).map((task) => ({ ...task })))
  }

  /** When the next task in flight is overdue or orphaned (overdue, orphaned), if one is: the sweep's timer. */
  nextDeadline(graceMs: number): number | null {
    let next: number | null = null
    for (const task of this.inFlight()) {
      const gone = task.agent_id === null ? undefined : this.d.agents.goneSince(task.agent_id)
      const at = Math.min(task.assigned_at === null ? Infinity : task.assigned_at + task.timeout_ms, gone === null ? Infinity : gone ?? task.updated_at) + graceMs
      if (at !== Infinity && (next === null || at < next)) next = at
    }
    return next
  }

  prune(keep: number): Promise<number> {
    return this.answer(this.table.forgetFinishedBeyond(keep))
  }

  list(query: TasksQuery): Promise<{ tasks: TaskRecord[]; next_cursor: string | null }> {
    const page = this.listNow(query)
    return this.answer({ tasks: page.tasks.map((task) => ({ ...task })), next_cursor: page.next_cursor })
  }

  /** list's page as held now, saved or not (GET /api/admin/tasks on one hub): the records, not copies. */
  listNow(query: TasksQuery): { tasks: Readonly<TaskRecord>[]; next_cursor: string | null } {
    return pageTasks(this.table.newestFirst(), query)
  }

  /** The task as held now, saved or not. */
  peek(taskId: string): Readonly<TaskRecord> | undefined {
    return this.table.get(taskId)
  }

  readonly now = (): number => this.d.now()

  /** Tasks queued (waiting for an agent or a retry's delay). */
  get queuedCount(): number {
    return this.queue.size
  }

  /** How many tasks are held, finished ones included. */
  get size(): number {
    return this.table.size
  }

  /** Resolves once every change so far is on disk; rejects when that save failed. */
  durable(): Promise<void> {
    return this.table.durable()
  }

  /** Whether the last save failed, since when (GET /health). */
  get storage(): StorageHealth {
    return this.table.storage
  }

  close(): void {
    this.table.close()
  }

  /** `value`, once every change so far is on disk. */
  private answer<R>(value: R): Promise<R> {
    return this.table.durable().then(() => value)
  }

  /** Takes a task in flight back from `agentId` (rules.ts requeueVerdict): queued again, or failed. */
  private takeBack(task: TaskRecord, agentId: string, counted: boolean): void {
    if (!isInFlight(task.status) || task.agent_id !== agentId) return
    this.letGo(task)
    this.change(task, { ...requeueVerdict(task, counted, this.d.maxAttempts), assigned_at: null })
    this.settle(task)
  }

  private change(task: TaskRecord, to: Partial<TaskRecord>): void {
    Object.assign(task, to, { updated_at: this.d.now() })
    this.table.changed(task)
  }

  /** After a change: queued again, or finished (kept for GET while it fits). */
  private settle(task: TaskRecord): void {
    if (task.status === 'queued') this.queue.add(task.task_id)
    else if (isFinished(task.status)) {
      this.lastAgent.delete(task.task_id)
      this.table.retire(task)
    }
  }

  private hold(agentId: string, taskId: string): void {
    (this.held.get(agentId) ?? this.held.set(agentId, new Set()).get(agentId)!).add(taskId)
  }

  /** The task's agent no longer holds it (call before changing agent_id). */
  private letGo(task: TaskRecord): void {
    if (!isInFlight(task.status) || task.agent_id === null) return
    const ids = this.held.get(task.agent_id)
    ids?.delete(task.task_id)
    if (ids?.size === 0) this.held.delete(task.agent_id)
  }

  private inFlight(): TaskRecord[] {
    return [...this.held.values()].flatMap((ids) => [...ids].map((id) => this.table.get(id)!))
  }

  private bySeq(ids: readonly string[]): TaskRecord[] {
    const seq = (id: string) => this.table.seqOf(id) ?? Infinity
    return [...ids].sort((a, b) => seq(a) - seq(b)).map((id) => this.table.get(id)!)
  }
}
