/**
 * The task engine's steps (hub/tasks/task-engine.ts) over a store that changes its tasks in
 * memory at once (one hub's, hub/tasks/memory-task-queue-store.ts): each report is settled in the
 * step it arrives, with no round trip and no retry loop, and only what the contract orders after
 * a save waits for it: an assignment is sent, an outcome or interruption acknowledged (and the
 * agent freed), once saved. A save that fails sends nothing: the accept timeout takes the task
 * back, and the sidecar, unacknowledged, keeps its report and sends it again. The rules are the
 * store's (its `...Now` operations, by hub/tasks/rules.ts), as over PostgreSQL.
 */
import type { AgentRecord, Fleet } from '../agents/fleet.ts'
import type { Logger } from '../../shared/log.ts'
import { cancelVerdict, isInFlight, lostCountsAsAttempt } from './rules.ts'
import type { CancelAnswer } from './task-options.ts'
import type { ImmediateTaskOps, KeptTask, StoredOutcome } from './task-queue-store.ts'

export interface ImmediateReportsDeps<T extends KeptTask> {
  ops: ImmediateTaskOps<T>
  fleet: Fleet
  /** The task changed: published (the engine's changed()). */
  changed(taskId: string): void
  /** Takes the task back if its agent has not accepted it in time. */
  armAccept(rec: AgentRecord, taskId: string): void
  /** Queued work may be waiting. */
  nudge(): void
  /** `fire` in `ms`, unless the engine is closed first. */
  later(ms: number, fire: () => void): void
  /** A task in flight on `agentId` was cancelled: the sidecar told to stop it, the agent freed by its report (or later). */
  stop(agentId: string, taskId: string): void
  log: Pick<Logger, 'info'>
}

export class ImmediateReports<T extends KeptTask = KeptTask> {
  constructor(private readonly d: ImmediateReportsDeps<T>) {}

  get ops(): ImmediateTaskOps<T> {
    return this.d.ops
  }

  /** A task just claimed for `task.agent_id`, a free agent here: taken at once, sent once saved. */
  handOver(task: T): void {
    const agentId = task.agent_id!
    const attempt = task.attempts
    this.d.changed(task.task_id)
    const rec = this.d.fleet.get(agentId)!
    this.d.fleet.assign(rec, task.task_id)
    this.d.armAccept(rec, task.task_id)
    // A hub killed before the save restores the task queued, and must not hand it to a second
    // agent while the first runs it. Taken back or given again meanwhile: nothing to send.
    void this.d.ops.durable().then(() => {
      // Cancelled before it was sent: the agent never had it, and is free at once.
      if (task.status === 'cancelled' && rec.task_id === task.task_id) return this.d.fleet.release(rec, task.task_id)
      if (task.status !== 'assigned' || task.agent_id !== agentId || task.attempts !== attempt) return
      this.d.fleet.bus.sendToAgent(agentId, { type: 'task_assign', task_id: task.task_id, input: task.input, timeout_ms: task.timeout_ms })
    }, () => {})
  }

  accepted(rec: AgentRecord, taskId: string): void {
    if (this.d.ops.startNow(taskId, rec.agent_id)) {
      this.d.changed(taskId)
      return this.d.fleet.taskStarted(rec)
    }
    const task = this.d.ops.peek(taskId)
    // Given to another agent meanwhile: this copy must not run twice.
    if (!task || task.agent_id !== rec.agent_id || !isInFlight(task.status)) {
      this.d.fleet.bus.sendToAgent(rec.agent_id, { type: 'task_cancel', task_id: taskId })
    }
  }

  finished(rec: AgentRecord, taskId: string, outcome: StoredOutcome): void {
    const task = this.d.ops.completeNow(taskId, rec.agent_id, outcome)
    if (task) this.d.changed(taskId)
    // Failed with retries left: queued again, dispatched once its delay has passed.
    if (task?.status === 'queued' && task.run_after !== null) this.dueAt(task.run_after)
    this.acknowledge(rec, taskId)
  }

  interrupted(rec: AgentRecord, taskId: string, counted: boolean): void {
    const task = this.d.ops.requeueNow(taskId, rec.agent_id, counted)
    if (task) this.d.changed(taskId)
    if (task?.status === 'queued') this.d.nudge()
    this.acknowledge(rec, taskId)
  }

  /**
   * A (re)identified sidecar reconciled with the store in the step it arrives, as the cluster's
   * (task-engine.ts identified) but with no round trip, so a report that follows it, and the
   * agent's next task, come after it: what the agent no longer has runs again, what it still has
   * it keeps (the task it holds, or null).
   */
  identified(rec: AgentRecord, activeTaskId: string | null): string | null {
    const { ops } = this.d
    for (const held of ops.heldByNow(rec.agent_id)) {
      if (held.task_id === activeTaskId) continue
      const task = ops.requeueNow(held.task_id, rec.agent_id, lostCountsAsAttempt(held.status))
      if (task) this.d.changed(held.task_id)
      if (task?.status === 'queued') this.d.nudge()
    }
    if (activeTaskId === null) return null
    if (ops.adoptNow(activeTaskId, rec.agent_id)) {
      this.d.changed(activeTaskId)
      return activeTaskId
    }
    const status = ops.peek(activeTaskId)?.status
    // Busy until its sidecar reports the stopped task: no next task beside one still dying.
    if (status === 'cancelled') this.d.stop(rec.agent_id, activeTaskId)
    // A finished task's late result is acknowledged (and ignored) when it arrives.
    else if (status !== 'completed' && status !== 'failed') this.d.fleet.bus.sendToAgent(rec.agent_id, { type: 'task_cancel', task_id: activeTaskId })
    return status === 'cancelled' ? activeTaskId : null
  }

  /**
   * An operator's cancel (CONTRACT.md, "Task control"), answered at once; the route answers once
   * it is saved (durable()). A queued task is cancelled; one in flight too, and its agent told to
   * stop it. Its agent's later report no longer applies: acknowledged, it frees the agent.
   */
  cancel(taskId: string): CancelAnswer {
    const done = this.d.ops.cancelNow(taskId)
    if (!done) return { ok: false, error: this.d.ops.peek(taskId) ? 'task_finished' : 'task_not_found' }
    const agentId = done.task.agent_id
    this.d.log.info('task cancelled', { task_id: taskId, was: done.was, agent_id: agentId })
    this.d.changed(taskId)
    if (cancelVerdict(done.was) === 'cancel_and_signal' && agentId !== null) this.d.stop(agentId, taskId)
    return { ok: true, task: done.task }
  }

  /**
   * Dispatches once `at` is past by the store's clock, which its claim reads: a timer may fire a
   * few ms early by it (Node runs timers on the event loop's cached time), and then waits out the rest.
   */
  dueAt(at: number): void {
    const left = at - this.d.ops.now()
    if (left <= 0) this.d.nudge()
    else this.d.later(left, () => this.dueAt(at))
  }

  /** Acknowledged once saved, the agent freed with it: its next task must not find it holding this one. */
  private acknowledge(rec: AgentRecord, taskId: string): void {
    void this.d.ops.durable().then(() => {
      this.d.fleet.bus.sendToAgent(rec.agent_id, { type: 'task_ack', task_id: taskId })
      this.d.fleet.release(rec, taskId)
    }, () => {})
  }
}
