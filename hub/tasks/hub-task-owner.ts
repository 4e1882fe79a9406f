/**
 * The owner of one hub's tasks: a thin layer over the one task engine (hub/tasks/task-engine.ts)
 * and the memory store (memory-task-queue-store.ts), saved through the hub's TaskStore, with the
 * surface the admin, the events and app.ts read; the socket layer's TaskOwner. Deadlines are the sweep's (immediate-sweep.ts): one timer at the
 * earliest, re-armed when a task is handed out or an agent goes.
 */
import type { AgentRecord, Fleet } from '../agents/fleet.ts'
import type { TaskOutcome } from '../../shared/protocol.ts'
import type { ChangeFeed } from '../events/changes.ts'
import type { Logger } from '../../shared/log.ts'
import { TaskEngine } from './task-engine.ts'
import { startImmediateSweep, sweepIntervalMs } from './immediate-sweep.ts'
import { MemoryTaskQueueStore } from './memory-task-queue-store.ts'
import { TASK_EXTRAS_DEFAULTS, type TaskExtras, type TasksQuery } from './rules.ts'
import type { CancelAnswer, TaskRecord } from './task-options.ts'
import type { StoredTask, TaskStore } from './task-store.ts'
import type { OverdueTask } from './overdue.ts'

export interface HubTaskOwnerDeps {
  fleet: Fleet
  changes: ChangeFeed
  log: Logger
  newId(): string
  now(): number
  store: TaskStore | null
  storeRetryMs: number
  maxAttempts: number
  maxFinished: number
  defaultTimeoutMs: number
  acceptTimeoutMs: number
  graceMs: number
  onForget?(ids: string[]): void
  onOverdue(overdue: OverdueTask): void
}

export class HubTaskOwner {
  readonly store: MemoryTaskQueueStore
  readonly engine: TaskEngine<TaskRecord>
  private readonly sweep: { wake(at: number): void; stop(): void }
  private readonly unsubscribe: () => void

  constructor(private readonly d: HubTaskOwnerDeps) {
    const { fleet } = d
    const startedAt = d.now()
    this.store = new MemoryTaskQueueStore({
      now: d.now, log: d.log, maxAttempts: d.maxAttempts, maxFinished: d.maxFinished, store: d.store, storeRetryMs: d.storeRetryMs,
      onForget: d.onForget,
      agents: {
        claimable: (id) => {
          const rec = fleet.get(id)
          return rec?.peer ? rec.labels : null
        },
        goneSince: (id) => {
          const rec = fleet.get(id)
          // One hub started again: its agents' grace runs from the start, as the board's did.
          return rec?.peer ? null : Math.max(rec?.last_seen ?? 0, startedAt)
        },
      },
    })
    const engine: TaskEngine<TaskRecord> = new TaskEngine<TaskRecord>({
      store: this.store, immediate: this.store, nudgeAll: async () => engine.nudge(), holds: () => true,
      fleet, changes: d.changes, log: d.log, acceptTimeoutMs: d.acceptTimeoutMs, onOverdue: d.onOverdue,
    })
    this.engine = engine
    const deadlines = { now: d.now, next: () => this.store.nextDeadline(d.graceMs) }
    this.sweep = startImmediateSweep({ tasks: engine, fleet, log: d.log, graceMs: d.graceMs, intervalMs: sweepIntervalMs(d.graceMs), deadlines })
    // A task handed out: the sweep's timer waits for its deadline if it is the earliest.
    this.unsubscribe = d.changes.subscribe((change) => {
      if (change.type !== 'task') return
      const task = this.store.peek(change.task_id)
      if (task?.assigned_at != null && (task.status === 'assigned' || task.status === 'working')) {
        this.sweep.wake(task.assigned_at + task.timeout_ms + d.graceMs)
      }
    })
  }

  get(taskId: string): Readonly<TaskRecord> | undefined {
    return this.store.peek(taskId)
  }

  get queuedCount(): number {
    return this.store.queuedCount
  }

  get waitingCount(): number {
    return this.store.queuedCount
  }

  get size(): number {
    return this.store.size
  }

  get storage() {
    return this.store.storage
  }

  durable(): Promise<void> {
    return this.store.durable()
  }

  /** Tasks a previous hub saved: queued ones offered to the agents at once, retries once their delay is over. */
  restore(stored: StoredTask[]): void {
    this.store.restore(stored)
    for (const s of stored) if (s.status === 'queued' && s.run_after != null) this.engine.retryAt(s.run_after)
    this.engine.nudge()
    const next = this.store.nextDeadline(this.d.graceMs)
    if (next !== null) this.sweep.wake(next)
  }

  create(input: unknown, pinned: string | null, timeoutMs: number | undefined, extras: Partial<TaskExtras> = {}) {
    const given: Record<string, unknown> = { ...TASK_EXTRAS_DEFAULTS }
    for (const key in extras) if ((extras as Record<string, unknown>)[key] !== undefined) given[key] = (extras as Record<string, unknown>)[key]
    const taskId = this.d.newId()
    const inserted = this.store.insert({
      task_id: taskId, input, pinned, timeout_ms: timeoutMs ?? this.d.defaultTimeoutMs, extras: given as unknown as TaskExtras,
    })
    const task = this.store.peek(taskId)!
    const saved = inserted.then(() => {
      this.engine.changed(taskId)
      this.engine.nudge()
      return true
    }, () => false)
    return { task, saved }
  }

  list(query: TasksQuery) {
    return this.store.listNow(query)
  }

  cancel(taskId: string): CancelAnswer {
    return this.engine.cancel(taskId)
  }

  // The sockets' side (TaskOwner), for callers that hold the board: the engine's.
  identified(rec: AgentRecord, activeTaskId: string | null): void {
    this.engine.identified(rec, activeTaskId)
  }

  accepted(rec: AgentRecord, taskId: string): void {
    this.engine.accepted(rec, taskId)
  }

  finished(rec: AgentRecord, taskId: string, outcome: Exclude<TaskOutcome, { kind: 'interrupted' }>): void {
    this.engine.finished(rec, taskId, outcome)
  }

  interrupted(rec: AgentRecord, taskId: string, reason: string, started = true): void {
    this.engine.interrupted(rec, taskId, reason, started)
  }

  disconnected(rec: AgentRecord): void {
    this.engine.disconnected(rec)
    // Its task's grace period runs from now: the sweep's timer waits for it if it is the earliest.
    const next = this.store.nextDeadline(this.d.graceMs)
    if (next !== null) this.sweep.wake(next)
  }

  close(): void {
    this.unsubscribe()
    this.sweep.stop()
    this.engine.close()
    this.store.close()
  }
}
