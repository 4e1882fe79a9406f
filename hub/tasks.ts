/**
 * Tasks: created over HTTP, queued, dispatched one per agent, and tracked until an outcome
 * is stored. A task in flight is never dropped: an agent that vanishes gets a grace period to
 * come back and report it, after which the task is queued again. The one owner of task
 * records; every change publishes a `task` change. Which agent holds which task is the
 * fleet's to record: this board asks it to assign and release.
 */
import type { TaskOutcome } from '../shared/protocol.ts'
import type { Clock } from '../shared/time.ts'
import type { Logger } from '../shared/log.ts'
import type { AgentRecord, Fleet } from './fleet.ts'
import type { AgentBus } from './bus.ts'
import type { ChangeFeed } from './changes.ts'
import { Persister, type StoredTask, type TaskStore } from './task-store.ts'

export type TaskStatus = 'queued' | 'assigned' | 'working' | 'completed' | 'failed'

export interface TaskRecord extends StoredTask {
  timer: ReturnType<typeof setTimeout> | null
}

export interface TaskBoardOptions {
  clock: Clock
  log: Logger
  newId: () => string
  /** An assignment not accepted within this is queued again. */
  acceptTimeoutMs: number
  /** How long a disconnected agent has to come back and report its task. */
  graceMs: number
  /** A task interrupted this many times fails instead of running again. */
  maxAttempts: number
  defaultTimeoutMs: number
  /** Finished tasks kept for GET; the oldest are forgotten past this. */
  maxFinished: number
  /** Where tasks are saved so a hub restart loses none; null keeps them in memory only. */
  store?: TaskStore | null
  changes: ChangeFeed
  bus: AgentBus
}

/** Finished tasks written to the store (all unfinished ones always are). */
const MAX_STORED_FINISHED = 1000

export class TaskBoard {
  private readonly tasks = new Map<string, TaskRecord>()
  private queue: string[] = []
  private retired: string[] = []
  private dispatchScheduled = false
  private readonly persister: Persister
  private readonly unsubscribe: () => void

  constructor(private readonly fleet: Fleet, private readonly opts: TaskBoardOptions) {
    this.persister = new Persister(opts.store ?? null, () => this.snapshot(), opts.log)
    this.unsubscribe = opts.changes.on('agent', (change) => {
      if (fleet.isAvailable(change.agent_id)) this.scheduleDispatch()
    })
  }

  get(taskId: string): Readonly<TaskRecord> | undefined {
    return this.tasks.get(taskId)
  }

  /** How many tasks the board holds, finished ones included. */
  get size(): number {
    return this.tasks.size
  }

  /** Resolves once every change so far is in the store. */
  durable(): Promise<void> {
    return this.persister.durable()
  }

  /**
   * Loads the tasks a previous hub saved. Unfinished ones run on: queued tasks are queued,
   * tasks that were in flight wait for their agent to come back and report them (the grace
   * period), then run again.
   */
  restore(stored: StoredTask[]): void {
    for (const s of stored) {
      const task: TaskRecord = { ...s, timer: null }
      this.tasks.set(task.task_id, task)
      if (task.status === 'queued') this.queue.push(task.task_id)
      else if (task.status === 'completed' || task.status === 'failed') this.retired.push(task.task_id)
      else this.arm(task, this.opts.graceMs, () => this.requeue(task))
    }
    this.scheduleDispatch()
  }

  private snapshot(): StoredTask[] {
    const out: StoredTask[] = []
    const keepFinished = new Set(this.retired.slice(-MAX_STORED_FINISHED))
    for (const t of this.tasks.values()) {
      if ((t.status === 'completed' || t.status === 'failed') && !keepFinished.has(t.task_id)) continue
      const { timer: _timer, ...stored } = t
      out.push(stored)
    }
    return out
  }

  create(input: unknown, pinned: string | null, timeoutMs: number | undefined): TaskRecord {
    const now = this.opts.clock.now()
    const task: TaskRecord = {
      task_id: this.opts.newId(), status: 'queued', input, pinned, agent_id: pinned,
      attempts: 0, result: null, error: null, timeout_ms: timeoutMs ?? this.opts.defaultTimeoutMs,
      created_at: now, updated_at: now, timer: null,
    }
    this.tasks.set(task.task_id, task)
    this.queue.push(task.task_id)
    this.persister.touch()
    this.opts.changes.publish({ type: 'task', task_id: task.task_id })
    this.scheduleDispatch()
    return task
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
    for (const taskId of this.queue) {
      const task = this.tasks.get(taskId)
      if (!task || task.status !== 'queued') continue
      const agentId = task.pinned ?? first(available)
      const rec = agentId !== undefined && available.has(agentId) ? this.fleet.get(agentId) : undefined
      if (rec) this.assign(task, rec)
      else waiting.push(taskId)
    }
    this.queue = waiting
  }

  private assign(task: TaskRecord, rec: AgentRecord): void {
    task.status = 'assigned'
    task.agent_id = rec.agent_id
    task.attempts++
    this.touch(task)
    this.fleet.assign(rec, task.task_id)
    this.opts.bus.sendToAgent(rec.agent_id, { type: 'task_assign', task_id: task.task_id, input: task.input, timeout_ms: task.timeout_ms })
    this.arm(task, this.opts.acceptTimeoutMs, () => {
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
    this.disarm(task)
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
      (task.status === 'queued' && (task.pinned === null || task.pinned === rec.agent_id))
    )
    if (task && isOurs) {
      this.disarm(task)
      if (outcome.kind === 'complete' && !isStorable(outcome.result)) {
        outcome = { kind: 'failed', error: 'result cannot be stored: nested too deeply' }
      }
      task.status = outcome.kind === 'complete' ? 'completed' : 'failed'
      task.agent_id = rec.agent_id
      if (outcome.kind === 'complete') task.result = outcome.result
      else task.error = outcome.error
      this.touch(task)
      this.retire(task)
    }
    this.acknowledge(rec, taskId)
  }

  /**
   * Acknowledged only once stored: until then the sidecar keeps the outcome and resends it.
   * The agent is free only then too, or its next task would find it still holding this one.
   */
  private acknowledge(rec: AgentRecord, taskId: string): void {
    void this.durable().then(() => {
      this.opts.bus.sendToAgent(rec.agent_id, { type: 'task_ack', task_id: taskId })
      this.fleet.release(rec, taskId)
    })
  }

  /** The sidecar cut the task short (force restart, shutdown, crash): run it again. */
  interrupted(rec: AgentRecord, taskId: string, reason: string, started = true): void {
    const task = this.tasks.get(taskId)
    if (task && task.agent_id === rec.agent_id && (task.status === 'assigned' || task.status === 'working')) {
      this.opts.log.info('task interrupted', { task_id: taskId, agent_id: rec.agent_id, reason, started })
      // Refused before it started (the sidecar was busy or restarting): not an attempt.
      if (!started) task.attempts = Math.max(0, task.attempts - 1)
      this.requeue(task)
    }
    this.acknowledge(rec, taskId)
  }

  /** Reconciles what the hub and a (re)identified sidecar each believe is in flight. */
  identified(rec: AgentRecord, activeTaskId: string | null): void {
    let holding = rec.task_id
    const held = holding ? this.tasks.get(holding) : undefined
    if (held) this.disarm(held)
    if (held && held.task_id !== activeTaskId) {
      // The sidecar never stored it (lost before it was accepted): run it again.
      holding = null
      if (held.status === 'assigned' || held.status === 'working') this.requeue(held)
    }
    if (activeTaskId && holding !== activeTaskId) {
      const task = this.tasks.get(activeTaskId)
      if (task && (task.status === 'assigned' || task.status === 'working') && task.agent_id === rec.agent_id) {
        // In flight here when the hub restarted: the agent still holds it.
        this.disarm(task)
        task.status = 'working'
        this.touch(task)
        holding = activeTaskId
      } else if (task?.status === 'queued' && (task.pinned === null || task.pinned === rec.agent_id)) {
        // Requeued after the grace period but not yet given to anyone: take it back.
        this.queue = this.queue.filter((id) => id !== activeTaskId)
        task.status = 'working'
        task.agent_id = rec.agent_id
        this.touch(task)
        holding = activeTaskId
      } else if (task?.status !== 'completed' && task?.status !== 'failed') {
        this.opts.bus.sendToAgent(rec.agent_id, { type: 'task_cancel', task_id: activeTaskId })
      }
      // A finished task's late result is acknowledged (and ignored) when it arrives.
    }
    this.fleet.holding(rec, holding)
  }

  disconnected(rec: AgentRecord): void {
    const task = rec.task_id ? this.tasks.get(rec.task_id) : undefined
    if (!task) return
    this.arm(task, this.opts.graceMs, () => {
      this.opts.log.warn('agent did not come back with its task', { task_id: task.task_id, agent_id: rec.agent_id })
      this.fleet.release(rec, task.task_id)
      this.requeue(task)
    })
  }

  private requeue(task: TaskRecord): void {
    this.disarm(task)
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
    this.retired.push(task.task_id)
    while (this.retired.length > this.opts.maxFinished) this.tasks.delete(this.retired.shift()!)
  }

  private touch(task: TaskRecord): void {
    task.updated_at = this.opts.clock.now()
    this.persister.touch()
    this.opts.changes.publish({ type: 'task', task_id: task.task_id })
  }

  private arm(task: TaskRecord, ms: number, fire: () => void): void {
    this.disarm(task)
    task.timer = setTimeout(() => {
      task.timer = null
      fire()
    }, ms)
  }

  private disarm(task: TaskRecord): void {
    if (task.timer) clearTimeout(task.timer)
    task.timer = null
  }

  close(): void {
    this.unsubscribe()
    for (const task of this.tasks.values()) this.disarm(task)
  }
}

/** Whether a value survives JSON.stringify (a deeply nested one overflows the stack). */
function isStorable(value: unknown): boolean {
  try {
    JSON.stringify(value)
    return true
  } catch {
    return false
  }
}

function first<T>(set: ReadonlySet<T>): T | undefined {
  return set.values().next().value
}
