/**
 * Tasks: created over HTTP, queued (task-dispatch.ts), given to one agent each, tracked until
 * an outcome is stored. A task in flight is never dropped: a vanished agent has a grace period
 * to come back and report it (task-reconcile.ts), then the task is queued again. The one owner
 * of task records, every change published; which agent holds which is the fleet's to record.
 */
import type { TaskOutcome } from '../../shared/protocol.ts'
import type { AgentRecord, Fleet } from '../agents/fleet.ts'
import type { StoredTask } from './task-store.ts'
import type { StorageHealth } from '../store/persister.ts'
import { newTaskRecord, type TaskBoardOptions, type TaskRecord } from './task-options.ts'
import { TaskTable } from './task-table.ts'
import { TaskTimers } from './task-timers.ts'
import { DispatchQueue } from './task-dispatch.ts'
import { reconcileIdentified, type ReconcileSteps } from './task-reconcile.ts'
import { cancelTask, type CancelAnswer, type CancelSteps } from './task-cancel.ts'
import {
  TASK_EXTRAS_DEFAULTS, countsAsAttempt, isFinished, outcomeVerdict, overdueAfterMs, pageTasks, requeueVerdict, takesReportFrom,
  type TaskExtras, type TasksQuery,
} from './rules.ts'

export type { OverdueTask } from './task-timers.ts'
export type { TaskBoardOptions, TaskRecord, TaskStatus } from './task-options.ts'

export class TaskBoard {
  private readonly tasks: TaskTable
  private readonly timers = new TaskTimers()
  private readonly queue: DispatchQueue
  /** Tasks created whose first save has not settled yet (see queuedCount). */
  private creating = 0
  /** Each unfinished task's last agent, kept when requeued: the only one whose outcome counts. */
  private readonly lastAssignee = new Map<string, string>()
  /** Tasks a previous hub had in flight, by agent: settled when that agent identifies again. */
  private readonly restoredInFlight = new Map<string, string>()
  private readonly unsubscribe: () => void
  /** The board's steps its identify reconcile and its cancel take (task-reconcile.ts, task-cancel.ts). */
  private readonly steps: ReconcileSteps & CancelSteps = {
    task: (id) => this.tasks.get(id),
    takeRestoredInFlight: (agentId) => {
      const taskId = this.restoredInFlight.get(agentId)
      this.restoredInFlight.delete(agentId)
      return taskId
    },
    requeue: (task, counted) => this.requeue(task, counted),
    clearStep: (id) => this.timers.clearStep(id),
    hasOverdue: (id) => this.timers.hasOverdue(id),
    armOverdue: (task) => this.armOverdue(task),
    touch: (task) => this.touch(task),
    lastAssignee: (id) => this.lastAssignee.get(id),
    unqueue: (id) => this.queue.remove(id),
    releaseLater: (agentId, taskId) => this.releaseLater(agentId, taskId),
    sendToAgent: (agentId, frame) => this.opts.bus.sendToAgent(agentId, frame),
    holding: (rec, taskId) => this.fleet.holding(rec, taskId),
    retire: (task) => this.retire(task),
    agentHolds: (agentId, taskId) => this.fleet.get(agentId)?.task_id === taskId,
    log: { info: (msg, fields) => this.opts.log.info(msg, fields) },
  }

  constructor(private readonly fleet: Fleet, private readonly opts: TaskBoardOptions) {
    this.tasks = new TaskTable({
      log: opts.log, now: () => opts.clock.now(), maxFinished: opts.maxFinished,
      store: opts.store ?? null, storeRetryMs: opts.storeRetryMs, onForget: opts.onForget,
    })
    this.queue = new DispatchQueue({
      fleet, task: (id) => this.tasks.get(id), now: () => opts.clock.now(), assign: (task, rec) => this.assign(task, rec),
    })
    this.unsubscribe = opts.changes.on('agent', (change) => {
      if (fleet.isAvailable(change.agent_id)) this.queue.schedule()
    })
  }

  get(taskId: string): Readonly<TaskRecord> | undefined {
    return this.tasks.get(taskId)
  }

  /** What AGENTCOM_MAX_QUEUED_TASKS caps: queued tasks and those not yet saved (queued once saved). */
  get queuedCount(): number {
    return this.queue.length + this.creating
  }

  /** How many tasks the board holds, finished ones included. */
  get size(): number {
    return this.tasks.size
  }

  /** Tasks waiting for an agent, exactly (GET /metrics). */
  get waitingCount(): number {
    return this.queue.waiting
  }

  /** Resolves once every change so far is in the store; rejects when that save failed. */
  durable(): Promise<void> {
    return this.tasks.durable()
  }

  /** Whether the last save failed, since when. */
  get storage(): StorageHealth {
    return this.tasks.storage
  }

  /**
   * Loads the tasks a previous hub saved. Unfinished ones run on: queued tasks are queued,
   * tasks that were in flight wait for their agent to come back and report them (the grace
   * period), then run again.
   */
  restore(stored: StoredTask[]): void {
    for (const s of stored) {
      const task: TaskRecord = { ...TASK_EXTRAS_DEFAULTS, retried: 0, run_after: null, ...s }
      this.tasks.add(task)
      if (task.status === 'queued') {
        this.queue.push(task.task_id)
        if (task.run_after !== null) this.dispatchWhenDue(task.task_id, task.run_after)
      } else if (isFinished(task.status)) this.tasks.retire(task)
      else {
        if (task.agent_id !== null) this.restoredInFlight.set(task.agent_id, task.task_id)
        if (task.agent_id !== null) this.lastAssignee.set(task.task_id, task.agent_id)
        this.timers.armStep(task.task_id, this.opts.graceMs, () => this.requeue(task))
      }
    }
    this.queue.schedule()
  }

  /**
   * A new task. It is in the saved table at once but queued (dispatched, published) only once
   * saved; `saved` resolves false when it could not be, and then the task is gone, as if never
   * created.
   */
  create(
    input: unknown, pinned: string | null, timeoutMs: number | undefined, extras: Partial<TaskExtras> = {},
  ): { task: Readonly<TaskRecord>; saved: Promise<boolean> } {
    const task = newTaskRecord(
      { taskId: this.opts.newId(), now: this.opts.clock.now(), defaultTimeoutMs: this.opts.defaultTimeoutMs }, input, pinned, timeoutMs, extras)
    this.tasks.add(task)
    this.creating++
    const saved = this.tasks.durable().then(
      () => {
        this.creating--
        if (this.tasks.get(task.task_id) !== task) return false
        this.queue.push(task.task_id)
        this.opts.changes.publish({ type: 'task', task_id: task.task_id })
        this.queue.schedule()
        return true
      },
      () => {
        this.creating--
        // Nothing ran it and no one saw it: forget it, and the next save leaves it out.
        this.tasks.remove(task.task_id)
        return false
      },
    )
    return { task, saved }
  }

  private assign(task: TaskRecord, rec: AgentRecord): void {
    task.status = 'assigned'
    task.agent_id = rec.agent_id
    task.run_after = null
    this.lastAssignee.set(task.task_id, rec.agent_id)
    task.attempts++
    task.assigned_at = this.opts.clock.now()
    this.armOverdue(task)
    this.touch(task)
    this.fleet.assign(rec, task.task_id)
    // Sent only once the assignment is saved: a hub killed before that restores the task queued,
    // and must not hand it to a second agent while the first runs it. A failed save sends
    // nothing; the accept timeout below queues the task again.
    const attempt = task.attempts
    this.tasks.durable().then(() => {
      if (task.status !== 'assigned' || task.agent_id !== rec.agent_id || task.attempts !== attempt) return
      this.opts.bus.sendToAgent(rec.agent_id, { type: 'task_assign', task_id: task.task_id, input: task.input, timeout_ms: task.timeout_ms })
    }, () => {})
    this.timers.armStep(task.task_id, this.opts.acceptTimeoutMs, () => {
      this.opts.log.warn('task not accepted in time', { task_id: task.task_id, agent_id: rec.agent_id })
      this.fleet.release(rec, task.task_id)
      this.requeue(task)
    })
  }

  accepted(rec: AgentRecord, taskId: string): void {
    const task = this.tasks.get(taskId)
    if (!task || rec.task_id !== taskId || task.agent_id !== rec.agent_id) {
      // Given to another agent meanwhile: this copy must not run twice.
      this.opts.bus.sendToAgent(rec.agent_id, { type: 'task_cancel', task_id: taskId })
      return
    }
    this.timers.clearStep(task.task_id)
    if (task.status === 'assigned') {
      task.status = 'working'
      this.touch(task)
    }
    this.fleet.taskStarted(rec)
  }

  /** An outcome reported by a sidecar. Stored once; always acknowledged so it is not resent. */
  finished(rec: AgentRecord, taskId: string, outcome: Exclude<TaskOutcome, { kind: 'interrupted' }>): void {
    const task = this.tasks.get(taskId)
    if (task && takesReportFrom(task, this.lastAssignee.get(taskId), rec.agent_id)) {
      this.timers.clearStep(task.task_id)
      const verdict = outcomeVerdict(task, outcome)
      if (verdict.status === 'queued') {
        this.retryLater(task, verdict.error, verdict.delayMs)
        return this.acknowledge(rec, taskId)
      }
      task.status = verdict.status
      task.agent_id = rec.agent_id
      // A run of a queued task restored from a save made before its assignment: its first.
      task.attempts = Math.max(task.attempts, 1)
      if (verdict.status === 'completed') task.result = verdict.result
      else task.error = verdict.error
      this.touch(task)
      this.retire(task)
    }
    this.acknowledge(rec, taskId)
  }

  /** A failed run with retries left: queued again once `delayMs` has passed. */
  private retryLater(task: TaskRecord, error: string, delayMs: number): void {
    this.timers.clear(task.task_id)
    task.status = 'queued'
    task.error = error
    task.agent_id = task.pinned
    task.retried++
    task.run_after = this.opts.clock.now() + delayMs
    this.touch(task)
    this.queue.push(task.task_id)
    this.dispatchWhenDue(task.task_id, task.run_after)
  }

  /** Dispatches once the clock dispatch reads has reached `at`; a timer that fired early (Node's
   *  run on the event loop's cached time) waits out the rest, or the retry would wait for an agent freed. */
  private dispatchWhenDue(taskId: string, at: number): void {
    const left = at - this.opts.clock.now()
    if (left <= 0) this.queue.schedule()
    else this.timers.armStep(taskId, left, () => this.dispatchWhenDue(taskId, at))
  }

  /** Cancels a task that has not finished (task-cancel.ts). */
  cancel(taskId: string): CancelAnswer {
    return cancelTask(this.steps, taskId)
  }

  /** A cancelled task's agent is freed by its report; one that never reports, after cancelGraceMs. */
  private releaseLater(agentId: string, taskId: string): void {
    this.timers.armStep(taskId, this.opts.cancelGraceMs ?? 15_000, () => {
      const rec = this.fleet.get(agentId)
      if (rec) this.fleet.release(rec, taskId)
    })
  }

  /** Tasks newest first, filtered, one page (see task-control/rules.ts). */
  list(query: TasksQuery): { tasks: Readonly<TaskRecord>[]; next_cursor: string | null } {
    return pageTasks(this.tasks.newestFirst(), query)
  }

  /**
   * Acknowledged only once stored: until then the sidecar keeps the outcome and resends it.
   * The agent is free only then too, or its next task would find it still holding this one.
   */
  private acknowledge(rec: AgentRecord, taskId: string): void {
    this.durable().then(
      () => {
        this.opts.bus.sendToAgent(rec.agent_id, { type: 'task_ack', task_id: taskId })
        this.fleet.release(rec, taskId)
      },
      // Not saved: no ack. The sidecar keeps the outcome on its disk and sends it again.
      () => {},
    )
  }

  /** The sidecar cut the task short (force restart, shutdown, crash): run it again. */
  interrupted(rec: AgentRecord, taskId: string, reason: string, started = true): void {
    const task = this.tasks.get(taskId)
    if (task && task.agent_id === rec.agent_id && (task.status === 'assigned' || task.status === 'working')) {
      this.opts.log.info('task interrupted', { task_id: taskId, agent_id: rec.agent_id, reason, started })
      this.requeue(task, countsAsAttempt(reason, started))
    }
    this.acknowledge(rec, taskId)
  }

  /** Reconciles what the hub and a (re)identified sidecar each believe is in flight (task-reconcile.ts). */
  identified(rec: AgentRecord, activeTaskId: string | null): void {
    reconcileIdentified(this.steps, rec, activeTaskId)
  }

  disconnected(rec: AgentRecord): void {
    const task = rec.task_id ? this.tasks.get(rec.task_id) : undefined
    if (!task) return
    this.timers.armStep(task.task_id, this.opts.graceMs, () => {
      this.opts.log.warn('agent did not come back with its task', { task_id: task.task_id, agent_id: rec.agent_id })
      this.fleet.release(rec, task.task_id)
      this.requeue(task)
    })
  }

  /** Takes a task back from its agent (rules.ts requeueVerdict); `counted: false` takes back its attempt. */
  private requeue(task: TaskRecord, counted = true): void {
    // Cancelled (or otherwise over) while its agent was away: final.
    if (isFinished(task.status)) return
    this.timers.clear(task.task_id)
    const verdict = requeueVerdict(task, counted, this.opts.maxAttempts)
    Object.assign(task, verdict)
    this.touch(task)
    if (verdict.status === 'failed') {
      this.retire(task)
      return
    }
    this.queue.unshift(task.task_id)
    this.queue.schedule()
  }

  private retire(task: TaskRecord): void {
    this.timers.clear(task.task_id)
    this.lastAssignee.delete(task.task_id)
    this.tasks.retire(task)
  }

  /** The backstop for an agent that never reports: timeout_ms + grace after `assigned_at`, the
   *  task is counted interrupted (its attempt stands), queued again, and `onOverdue` is told. */
  private armOverdue(task: TaskRecord): void {
    const assignedAt = task.assigned_at ?? this.opts.clock.now()
    const waited = overdueAfterMs(task, this.opts.graceMs)
    const left = Math.max(0, assignedAt + waited - this.opts.clock.now())
    this.timers.armOverdue(task.task_id, left, () => {
      if (task.status !== 'assigned' && task.status !== 'working') return
      const agentId = task.agent_id
      const rec = agentId === null ? undefined : this.fleet.get(agentId)
      this.opts.log.warn('task overdue; running it again', { task_id: task.task_id, agent_id: agentId, waited_ms: waited })
      if (rec) {
        this.opts.onOverdue({ agent_id: rec.agent_id, task_id: task.task_id, assigned_at: assignedAt, waited_ms: waited })
        this.opts.bus.sendToAgent(rec.agent_id, { type: 'task_cancel', task_id: task.task_id })
        this.fleet.release(rec, task.task_id)
      }
      this.requeue(task)
    })
  }

  private touch(task: TaskRecord): void {
    task.updated_at = this.opts.clock.now()
    this.tasks.changed(task)
    this.opts.changes.publish({ type: 'task', task_id: task.task_id })
  }

  close(): void {
    this.unsubscribe()
    this.tasks.close()
    this.timers.close()
  }
}
