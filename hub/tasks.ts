/**
 * Tasks: created over HTTP, queued, dispatched one per agent, and tracked until an outcome
 * is stored. A task in flight is never dropped: an agent that vanishes gets a grace period to
 * come back and report it, after which the task is queued again. The one owner of task
 * records; every change publishes a `task` change. Which agent holds which task is the
 * fleet's to record: this board asks it to assign and release.
 */
import { MAX_RESULT_BYTES, RESULT_TOO_LARGE, STORAGE_UNAVAILABLE, jsonBytes, type TaskOutcome } from '../shared/protocol.ts'
import type { AgentRecord, Fleet } from './fleet.ts'
import type { StoredTask } from './task-store.ts'
import type { StorageHealth } from './persister.ts'
import type { TaskBoardOptions, TaskRecord } from './task-options.ts'
import { TaskTable } from './task-table.ts'
import { TaskTimers } from './task-timers.ts'
import { hasLabels } from '../shared/labels.ts'
import { TASK_EXTRAS_DEFAULTS, cancelVerdict, isFinished, pageTasks, retryDelay, type TaskExtras, type TasksQuery } from './task-control/rules.ts'

export type { OverdueTask } from './task-timers.ts'

export type { TaskBoardOptions, TaskRecord, TaskStatus } from './task-options.ts'

export class TaskBoard {
  private readonly tasks: TaskTable
  private readonly timers = new TaskTimers()
  private queue: string[] = []
  /** Tasks created whose first save has not settled yet (see queuedCount). */
  private creating = 0
  /** Each unfinished task's last agent, kept when requeued: the only one whose outcome counts. */
  private readonly lastAssignee = new Map<string, string>()
  private dispatchScheduled = false
  /** Tasks a previous hub had in flight, by agent: settled when that agent identifies again. */
  private readonly restoredInFlight = new Map<string, string>()
  private readonly unsubscribe: () => void

  constructor(private readonly fleet: Fleet, private readonly opts: TaskBoardOptions) {
    this.tasks = new TaskTable({
      log: opts.log, now: () => opts.clock.now(), maxFinished: opts.maxFinished,
      store: opts.store ?? null, storeRetryMs: opts.storeRetryMs, onForget: opts.onForget,
    })
    this.unsubscribe = opts.changes.on('agent', (change) => {
      if (fleet.isAvailable(change.agent_id)) this.scheduleDispatch()
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

  /** Tasks waiting for an agent, exactly (GET /metrics, at scrape time: it walks the queue). */
  get waitingCount(): number {
    return [...new Set(this.queue)].filter((id) => this.tasks.get(id)?.status === 'queued').length
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
        if (task.run_after !== null) this.timers.armStep(task.task_id, Math.max(0, task.run_after - this.opts.clock.now()), () => this.scheduleDispatch())
      } else if (isFinished(task.status)) this.tasks.retire(task)
      else {
        if (task.agent_id !== null) this.restoredInFlight.set(task.agent_id, task.task_id)
        if (task.agent_id !== null) this.lastAssignee.set(task.task_id, task.agent_id)
        this.timers.armStep(task.task_id, this.opts.graceMs, () => this.requeue(task))
      }
    }
    this.scheduleDispatch()
  }

  /**
   * A new task. It is in the saved table at once but queued (dispatched, published) only once
   * saved; `saved` resolves false when it could not be, and then the task is gone, as if never
   * created.
   */
  create(
    input: unknown, pinned: string | null, timeoutMs: number | undefined, extras: Partial<TaskExtras> = {},
  ): { task: Readonly<TaskRecord>; saved: Promise<boolean> } {
    const now = this.opts.clock.now()
    const task: TaskRecord = {
      task_id: this.opts.newId(), status: 'queued', input, pinned, agent_id: pinned,
      attempts: 0, result: null, error: null, timeout_ms: timeoutMs ?? this.opts.defaultTimeoutMs,
      created_at: now, updated_at: now, assigned_at: null,
      ...TASK_EXTRAS_DEFAULTS, ...stripUndefined(extras), retried: 0, run_after: null,
    }
    this.tasks.add(task)
    this.creating++
    const saved = this.tasks.durable().then(
      () => {
        this.creating--
        if (this.tasks.get(task.task_id) !== task) return false
        this.queue.push(task.task_id)
        this.opts.changes.publish({ type: 'task', task_id: task.task_id })
        this.scheduleDispatch()
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

  /** Dispatch runs once per tick however many things made an agent free. */
  scheduleDispatch(): void {
    if (this.dispatchScheduled || this.queue.length === 0) return
    this.dispatchScheduled = true
    queueMicrotask(() => {
      this.dispatchScheduled = false
      this.dispatch()
    })
  }

  /**
   * Gives queued tasks to free agents. "Free" (connected, idle, not drained, no restart
   * pending) is read from the fleet's available set and the assignment is made in the same
   * synchronous step, so no restart can slip in between.
   */
  dispatch(): void {
    const available = this.fleet.available
    if (available.size === 0) return
    const waiting: string[] = []
    const now = this.opts.clock.now()
    for (const taskId of this.queue) {
      const task = this.tasks.get(taskId)
      if (!task || task.status !== 'queued') continue
      // A retry waiting for its delay (a timer dispatches again then).
      const ready = task.run_after === null || task.run_after <= now
      const agentId = !ready ? undefined : task.pinned ?? this.firstWith(available, task.labels)
      const rec = agentId !== undefined && available.has(agentId) ? this.fleet.get(agentId) : undefined
      if (rec && hasLabels(rec.labels, task.labels)) this.assign(task, rec)
      else waiting.push(taskId)
    }
    this.queue = waiting
  }

  /** The first free agent carrying every one of `labels`. */
  private firstWith(available: ReadonlySet<string>, labels: readonly string[]): string | undefined {
    if (labels.length === 0) return first(available)
    for (const agentId of available) if (hasLabels(this.fleet.get(agentId)?.labels ?? [], labels)) return agentId
    return undefined
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
    const isOurs = task !== undefined && (
      ((task.status === 'assigned' || task.status === 'working') && task.agent_id === rec.agent_id) ||
      // Not one waiting for a retry (a report then is a resend of the failure that queued it), and
      // only from the agent it was last given to.
      (task.status === 'queued' && task.run_after === null && this.lastAssignee.get(taskId) === rec.agent_id)
    )
    if (task && isOurs) {
      this.timers.clearStep(task.task_id)
      if (outcome.kind === 'complete') {
        const bytes = jsonBytes(outcome.result)
        if (bytes === Infinity) outcome = { kind: 'failed', error: 'result cannot be stored: nested too deeply' }
        // The sidecar checks too; this holds for any client on the socket.
        else if (bytes > MAX_RESULT_BYTES) outcome = { kind: 'failed', error: RESULT_TOO_LARGE }
      }
      const delay = outcome.kind === 'failed' ? retryDelay(task) : null
      if (delay !== null && outcome.kind === 'failed') {
        this.retryLater(task, outcome.error, delay)
        return this.acknowledge(rec, taskId)
      }
      task.status = outcome.kind === 'complete' ? 'completed' : 'failed'
      task.agent_id = rec.agent_id
      // A run of a queued task restored from a save made before its assignment: its first.
      task.attempts = Math.max(task.attempts, 1)
      if (outcome.kind === 'complete') task.result = outcome.result
      else task.error = outcome.error
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
    this.timers.armStep(task.task_id, delayMs, () => this.scheduleDispatch())
  }

  /**
   * Cancels a task that has not finished: a queued one at once; one in flight too, and its agent
   * is told to stop it (SIGTERM, SIGKILL after its grace). The agent stays busy until its sidecar
   * reports the stopped task (acknowledge frees it), or `cancelGraceMs` at most.
   */
  cancel(taskId: string): { ok: true; task: Readonly<TaskRecord> } | { ok: false; error: 'task_not_found' | 'task_finished' } {
    const task = this.tasks.get(taskId)
    if (!task) return { ok: false, error: 'task_not_found' }
    const verdict = cancelVerdict(task.status)
    if (verdict === 'finished') return { ok: false, error: 'task_finished' }
    this.opts.log.info('task cancelled', { task_id: taskId, was: task.status, agent_id: task.agent_id })
    task.status = 'cancelled'
    task.run_after = null
    this.touch(task)
    this.retire(task)
    const agentId = task.agent_id
    if (verdict === 'cancel_and_signal' && agentId !== null) {
      this.opts.bus.sendToAgent(agentId, { type: 'task_cancel', task_id: taskId, reason: 'cancelled' })
      if (this.fleet.get(agentId)?.task_id === taskId) this.releaseLater(agentId, taskId)
    }
    return { ok: true, task }
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
      // Refused before it started (the sidecar was busy or restarting): not an attempt. A
      // sidecar that cannot write its queue file refuses every task, so that one counts.
      if (!started && reason !== STORAGE_UNAVAILABLE) task.attempts = Math.max(0, task.attempts - 1)
      this.requeue(task)
    }
    this.acknowledge(rec, taskId)
  }

  /** Reconciles what the hub and a (re)identified sidecar each believe is in flight. */
  identified(rec: AgentRecord, activeTaskId: string | null): void {
    const restored = this.restoredInFlight.get(rec.agent_id)
    this.restoredInFlight.delete(rec.agent_id)
    const lost = restored !== undefined && restored !== activeTaskId ? this.tasks.get(restored) : undefined
    if (lost && (lost.status === 'assigned' || lost.status === 'working') && lost.agent_id === rec.agent_id) {
      // Back without the task a previous hub gave it: run it again now, not after the grace
      // period. An assignment never accepted (its message lost with that hub) was no attempt.
      if (lost.status === 'assigned') lost.attempts = Math.max(0, lost.attempts - 1)
      this.requeue(lost)
    }
    let holding = rec.task_id
    const held = holding ? this.tasks.get(holding) : undefined
    if (held) this.timers.clearStep(held.task_id)
    if (held && held.task_id !== activeTaskId) {
      // The sidecar never stored it (lost before it was accepted): run it again.
      holding = null
      if (held.status === 'assigned' || held.status === 'working') this.requeue(held)
    }
    if (activeTaskId && holding !== activeTaskId) {
      const task = this.tasks.get(activeTaskId)
      if (task && (task.status === 'assigned' || task.status === 'working') && task.agent_id === rec.agent_id) {
        // In flight here when the hub restarted: the agent still holds it.
        this.timers.clearStep(task.task_id)
        task.status = 'working'
        if (!this.timers.hasOverdue(task.task_id)) this.armOverdue(task)
        this.touch(task)
        holding = activeTaskId
      } else if (task?.status === 'queued' && this.lastAssignee.get(activeTaskId) === rec.agent_id) {
        // Requeued after the grace period but not yet given to anyone: take it back.
        this.queue = this.queue.filter((id) => id !== activeTaskId)
        task.status = 'working'
        task.agent_id = rec.agent_id
        task.attempts = Math.max(task.attempts, 1) // as in finished()
        this.armOverdue(task)
        this.touch(task)
        holding = activeTaskId
      } else if (task?.status === 'cancelled') {
        // Busy until its sidecar reports the stopped task: no next task beside one still dying.
        holding = activeTaskId
        this.releaseLater(rec.agent_id, activeTaskId)
      } else if (task?.status !== 'completed' && task?.status !== 'failed') {
        this.opts.bus.sendToAgent(rec.agent_id, { type: 'task_cancel', task_id: activeTaskId })
      }
      // A finished task's late result is acknowledged (and ignored) when it arrives.
    }
    // Cancelled while the agent was away (or a hub ago): the cancel may not have reached it.
    if (holding !== null && holding === activeTaskId && this.tasks.get(holding)?.status === 'cancelled') {
      this.opts.bus.sendToAgent(rec.agent_id, { type: 'task_cancel', task_id: holding, reason: 'cancelled' })
      this.releaseLater(rec.agent_id, holding)
    }
    this.fleet.holding(rec, holding)
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

  private requeue(task: TaskRecord): void {
    // Cancelled (or otherwise over) while its agent was away: final.
    if (isFinished(task.status)) return
    this.timers.clear(task.task_id)
    if (task.attempts >= this.opts.maxAttempts) {
      task.status = 'failed'
      task.error = `interrupted ${task.attempts} times`
      this.touch(task)
      this.retire(task)
      return
    }
    task.status = 'queued'
    task.agent_id = task.pinned
    this.touch(task)
    this.queue.unshift(task.task_id)
    this.scheduleDispatch()
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
    const waited = task.timeout_ms + this.opts.graceMs
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

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}

function first<T>(set: ReadonlySet<T>): T | undefined {
  return set.values().next().value
}
