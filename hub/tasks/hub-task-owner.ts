/**
 * The owner of a hub's tasks, in both modes: a thin layer over the one task engine
 * (hub/tasks/task-engine.ts), the socket layer's TaskOwner. One hub's are in the memory store
 * (memory-task-queue-store.ts), saved through the hub's TaskStore, with the surface the admin,
 * the events and app.ts read; its deadlines are the sweep's (immediate-sweep.ts): one timer at
 * the earliest, re-armed when a task is handed out or an agent goes. A cluster's are the shared
 * store it is handed (shared-tasks.ts: the rows, their claim path, the bus's nudge), whose
 * deadlines the cluster's sweep keeps on the database's clock. Either way it gives the admin
 * API's task answers (`admin`, task-admin.ts): memory-task-admin.ts, or the shared store's rows.
 */
import type { AgentRecord, Fleet } from '../agents/fleet.ts'
import type { TaskOutcome } from '../../shared/protocol.ts'
import type { ChangeFeed } from '../events/changes.ts'
import type { Logger } from '../../shared/log.ts'
import { TaskEngine } from './task-engine.ts'
import { startImmediateSweep, sweepIntervalMs } from './immediate-sweep.ts'
import { MemoryTaskQueueStore } from './memory-task-queue-store.ts'
import { withExtrasDefaults, type TaskExtras, type TasksQuery } from './rules.ts'
import type { CancelAnswer, TaskRecord } from './task-options.ts'
import type { StoredTask, TaskStore } from './task-store.ts'
import type { OverdueTask } from './overdue.ts'
import type { SharedTasks } from './shared-tasks.ts'
import type { TaskAdmin } from './task-admin.ts'
import { createMemoryTaskAdmin } from './memory-task-admin.ts'

export interface HubTaskOwnerDeps {
  fleet: Fleet
  changes: ChangeFeed
  log: Logger
  newId(): string
  now(): number
  /** A cluster's tasks (HubStore.tasks); unset: this hub's memory store, saved through `store`. */
  shared?: SharedTasks
  /** Whether this hub holds the agent (a cluster's presence); default: every agent is this hub's. */
  holds?: (agentId: string) => boolean
  store: TaskStore | null
  storeRetryMs: number
  maxAttempts: number
  maxFinished: number
  defaultTimeoutMs: number
  /** AGENTCOM_MAX_QUEUED_TASKS for the admin's creations (a cluster's store counts its own). Default: no cap. */
  maxQueuedTasks?: number
  acceptTimeoutMs: number
  graceMs: number
  onForget?(ids: string[]): void
  onOverdue(overdue: OverdueTask): void
}

/** One hub's memory store and the sweep of its deadlines. */
interface OneHubTasks {
  store: MemoryTaskQueueStore
  engine: TaskEngine<TaskRecord>
  sweep: { wake(at: number): void; stop(): void }
  unsubscribe(): void
}

export class HubTaskOwner {
  /** The one engine, over the memory store or the shared one (the cluster's sweep, bus and admin drive it too). */
  readonly engine: TaskEngine
  /** The admin API's task answers (create, list, get, cancel), over the memory store or the rows. */
  readonly admin: TaskAdmin
  private readonly one: OneHubTasks | null

  constructor(private readonly d: HubTaskOwnerDeps) {
    const holds = d.holds ?? (() => true)
    const shared = d.shared
    if (shared) {
      const engine: TaskEngine = new TaskEngine({
        store: shared.store, claimPath: shared.claimPath, nudgeAll: () => shared.nudgeAll(), outputWritten: (taskId) => shared.outputs.written(taskId),
        holds, fleet: d.fleet, changes: d.changes, log: d.log, acceptTimeoutMs: d.acceptTimeoutMs, onOverdue: d.onOverdue,
      })
      this.engine = engine
      this.one = null
      this.admin = shared.admin({
        newId: d.newId, changed: (taskId, row) => engine.changed(taskId, row), cancelHere: (agentId, taskId) => engine.cancelHere(agentId, taskId),
      })
      return
    }
    this.one = this.startOneHub(holds)
    this.engine = this.one.engine
    this.admin = createMemoryTaskAdmin({ fleet: d.fleet, tasks: this, maxQueuedTasks: d.maxQueuedTasks })
  }

  private startOneHub(holds: (agentId: string) => boolean): OneHubTasks {
    const { d } = this
    const { fleet } = d
    const startedAt = d.now()
    const store = new MemoryTaskQueueStore({
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
      store, immediate: store, nudgeAll: async () => engine.nudge(), holds,
      fleet, changes: d.changes, log: d.log, acceptTimeoutMs: d.acceptTimeoutMs, onOverdue: d.onOverdue,
    })
    const deadlines = { now: d.now, next: () => store.nextDeadline(d.graceMs) }
    const sweep = startImmediateSweep({ tasks: engine, fleet, log: d.log, graceMs: d.graceMs, intervalMs: sweepIntervalMs(d.graceMs), deadlines })
    // A task handed out: the sweep's timer waits for its deadline if it is the earliest.
    const unsubscribe = d.changes.subscribe((change) => {
      if (change.type !== 'task') return
      const task = store.peek(change.task_id)
      if (task?.assigned_at != null && (task.status === 'assigned' || task.status === 'working')) {
        sweep.wake(task.assigned_at + task.timeout_ms + d.graceMs)
      }
    })
    return { store, engine, sweep, unsubscribe }
  }

  /** Whether the tasks are a cluster's, shared with other hubs (the reads below are one hub's; `admin` answers in both). */
  get isShared(): boolean {
    return this.one === null
  }

  /** One hub's memory store: what the admin, the events and the output files read at once. */
  private get local(): OneHubTasks {
    if (!this.one) throw new Error('one hub\'s tasks only: a cluster\'s admin and events read its rows')
    return this.one
  }

  /** One hub's memory store. */
  get store(): MemoryTaskQueueStore {
    return this.local.store
  }

  get(taskId: string): Readonly<TaskRecord> | undefined {
    return this.local.store.peek(taskId)
  }

  get queuedCount(): number {
    return this.local.store.queuedCount
  }

  /** Tasks waiting for an agent (GET /metrics): one hub's, or the whole cluster's. */
  async queuedTasks(): Promise<number> {
    return this.one ? this.one.store.queuedCount : this.d.shared!.queuedCount()
  }

  get size(): number {
    return this.local.store.size
  }

  get storage() {
    return this.local.store.storage
  }

  /** Every change so far saved (a shared store's operations each resolved once durable). */
  durable(): Promise<void> {
    return this.one ? this.one.store.durable() : Promise.resolve()
  }

  /** Tasks a previous hub saved: queued ones offered to the agents at once, retries once their delay is over. */
  restore(stored: StoredTask[]): void {
    const { store, engine, sweep } = this.local
    store.restore(stored)
    for (const s of stored) if (s.status === 'queued' && s.run_after != null) engine.retryAt(s.run_after)
    engine.nudge()
    const next = store.nextDeadline(this.d.graceMs)
    if (next !== null) sweep.wake(next)
  }

  create(input: unknown, pinned: string | null, timeoutMs: number | undefined, extras: Partial<TaskExtras> = {}) {
    const { store, engine } = this.local
    const taskId = this.d.newId()
    const inserted = store.insert({
      task_id: taskId, input, pinned, timeout_ms: timeoutMs ?? this.d.defaultTimeoutMs, extras: withExtrasDefaults(extras),
    })
    const task = store.peek(taskId)!
    const saved = inserted.then(() => {
      engine.changed(taskId)
      engine.nudge()
      return true
    }, () => false)
    return { task, saved }
  }

  list(query: TasksQuery) {
    return this.local.store.listNow(query)
  }

  cancel(taskId: string): CancelAnswer {
    return this.local.engine.cancel(taskId)
  }

  // The sockets' side (TaskOwner): the engine's.
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
    if (!this.one) return // a cluster's grace runs on the database's clock (hub/cluster/sweep.ts)
    // Its task's grace period runs from now: the sweep's timer waits for it if it is the earliest.
    const next = this.one.store.nextDeadline(this.d.graceMs)
    if (next !== null) this.one.sweep.wake(next)
  }

  close(): void {
    this.one?.unsubscribe()
    this.one?.sweep.stop()
    this.engine.close()
    this.one?.store.close()
  }
}
