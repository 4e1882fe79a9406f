/**
 * The one task engine, for both stores, over the TaskQueueStore's named operations (rules in
 * rules.ts). In cluster mode the rows in PostgreSQL are the queue and the record
 * (hub/pg/pg-task-store.ts); this hub hands them only to agents whose sockets it holds. A claim
 * is one statement with FOR UPDATE SKIP LOCKED: a task goes to one agent, an agent claims once
 * at a time here. An outcome is acknowledged after its update commits. The grace rule runs on
 * the database's clock (hub/cluster/sweep.ts), so tasks of a hub that died are requeued by the
 * others; its claims go through the claim path the cluster hands in (claim-path.ts). One hub:
 * the same engine over the memory store's immediate operations (immediate-*.ts, hub-task-owner.ts).
 */
import type { TaskOutcome } from '../../shared/protocol.ts'
import { countsAsAttempt, lostCountsAsAttempt, overdueAfterMs } from './rules.ts'
import { withinResultLimit } from './outcome-text.ts'
import { SUPERSEDED, type KeptTask, type StoredOutcome, type TaskQueueStore } from './task-queue-store.ts'
import type { AgentRecord, Peer } from '../agents/fleet.ts'
import type { TaskOwner } from '../cluster-seam.ts'
import type { CancelAnswer } from './task-options.ts'
import { ImmediateDispatch } from './immediate-dispatch.ts'
import { ImmediateReports } from './immediate-reports.ts'
import { SaveRetries } from './save-retry.ts'
import { ReportOrder } from './report-order.ts'
import type { TaskClaims } from './claim-path.ts'
import type { TaskEngineDeps } from './task-engine-deps.ts'

export type { TaskEngineDeps } from './task-engine-deps.ts'

/** Bus message kind: a task in flight on an agent the receiving hub holds was cancelled. */
export const TASK_CANCEL = 'task_cancel'
/** A cancelled task's agent that has not reported it this long after the cancel is freed anyway. */
const CANCEL_RELEASE_MS = 15_000

export class TaskEngine<TaskRow extends KeptTask = KeptTask> implements TaskOwner {
  /** Agents with an identify reconcile under way: no claim for them until it is done. */
  private readonly busy = new Set<string>()
  private readonly again = new Set<string>()
  private readonly claims: TaskClaims
  private readonly saves: SaveRetries
  /** The reports' settling over a store that changes in memory at once (d.immediate). */
  private readonly immediate: ImmediateReports<TaskRow> | null
  /**
   * Connections whose identify has been reconciled with the rows. No claim before that: the
   * agent is free as soon as the fleet settles its restart, before identified() runs, and a
   * claim then would be taken for a lost task of the old connection and counted twice.
   */
  private readonly reconciled = new WeakSet<Peer>()
  private readonly acceptTimers = new Map<string, ReturnType<typeof setTimeout>>()
  private readonly retryTimers = new Set<ReturnType<typeof setTimeout>>()
  private readonly unsubscribe: () => void
  private closed = false
  /** Each identify is its own (a new connection reports anew). */
  private identifies = 0
  private readonly reports = new ReportOrder()

  constructor(private readonly d: TaskEngineDeps<TaskRow>) {
    this.saves = new SaveRetries(d.log)
    const now = d.immediate && new ImmediateReports({
      ops: d.immediate, fleet: d.fleet, changed: (taskId) => this.changed(taskId), armAccept: (rec, taskId) => this.armAccept(rec, taskId),
      nudge: () => this.nudge(), later: (ms, fire) => this.later(ms, fire), log: d.log,
      stop: (agentId, taskId) => {
        this.disarmAccept(taskId)
        this.cancelHere(agentId, taskId)
      },
    })
    this.immediate = now ?? null
    const mayClaim = (agentId: string) => !this.busy.has(agentId) && this.mayClaim(agentId)
    if (!now && !d.claimPath) throw new Error('TaskEngine: a store without immediate operations needs a claimPath')
    this.claims = now
      ? new ImmediateDispatch({ ops: now.ops, fleet: d.fleet, mayClaim, handOver: (task) => now.handOver(task) })
      : d.claimPath!.start({ mayClaim, handOver: (row) => this.handOver(row) })
    this.unsubscribe = d.changes.on('agent', (change) => {
      if (!this.claims.isIdle(change.agent_id)) this.offer(change.agent_id)
    })
  }

  /** Where the tasks are kept (the sweep's overdue, orphaned and retention go through it too). */
  get store(): TaskQueueStore<TaskRow> {
    return this.d.store
  }

  /** Queued work may be waiting: every free agent here may claim. */
  nudge(): void {
    this.claims.nudge()
  }

  /** One hub's restored retry (fast path): dispatched once its delay is over, as a failed run's. */
  retryAt(at: number): void {
    this.immediate?.dueAt(at)
  }

  /** A task's row changed (for the events stream: `row`, as the change left it, spares it a read). */
  changed(taskId: string, row?: TaskRow): void {
    // One hub's events read the store itself: its claim path keeps no records for them.
    this.d.claimPath?.noted?.(taskId, row)
    this.d.changes.publish({ type: 'task', task_id: taskId })
  }

  /**
   * A task this hub dispatched is past timeout_ms + grace with no word from its agent (found by
   * the sweep on database time): counted interrupted and queued again, the agent told to drop
   * it, and healing told (a force restart, reason task_overdue, within its budget).
   */
  async overdue(task: { task_id: string; agent_id: string | null; timeout_ms: number; assigned_at?: number | null }, graceMs: number): Promise<void> {
    const agentId = task.agent_id
    if (agentId === null || !this.d.holds(agentId)) return
    const row = await this.d.store.requeue(task.task_id, agentId, true)
    if (!row) return
    const waited = overdueAfterMs(task, graceMs)
    this.d.log.warn('task overdue; running it again', { task_id: task.task_id, agent_id: agentId, waited_ms: waited })
    this.changed(task.task_id, row)
    const rec = this.d.fleet.get(agentId)
    if (rec) {
      this.d.onOverdue({ agent_id: agentId, task_id: task.task_id, assigned_at: task.assigned_at ?? null, waited_ms: waited })
      this.d.fleet.bus.sendToAgent(agentId, { type: 'task_cancel', task_id: task.task_id })
      this.d.fleet.release(rec, task.task_id)
    }
    if (row.status === 'queued') await this.announce()
  }

  /** One hub's cancel, answered at once (immediate-reports.ts); the cluster's is hub/pg/pg-task-admin.ts's statement. */
  cancel(taskId: string): CancelAnswer {
    if (!this.immediate) throw new Error('cancel() is the fast path\'s: a cluster cancels through hub/pg/pg-task-admin.ts')
    return this.immediate.cancel(taskId)
  }

  /** An operator cancelled a task in flight on an agent this hub holds: the sidecar stops it. */
  cancelHere(agentId: string, taskId: string): void {
    if (!this.d.holds(agentId)) return
    this.d.fleet.bus.sendToAgent(agentId, { type: 'task_cancel', task_id: taskId, reason: 'cancelled' })
    this.releaseLater(agentId, taskId)
  }

  /** Freed by its report (takeBack); an agent that never reports is freed after the sidecar's default grace plus 5 s. */
  private releaseLater(agentId: string, taskId: string): void {
    this.later(CANCEL_RELEASE_MS, () => {
      const rec = this.d.fleet.get(agentId)
      if (rec?.task_id === taskId) this.d.fleet.release(rec, taskId)
    })
  }

  /** `fire` in `ms`, unless closed first. */
  private later(ms: number, fire: () => void): void {
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer)
      fire()
    }, ms)
    this.retryTimers.add(timer)
  }

  /** Tells every hub (this one too) that queued work may be waiting. */
  async announce(): Promise<void> {
    await this.d.nudgeAll()
  }

  /**
   * Announces queued work at `at` (epoch ms, this hub's clock: a retry's delay as the store counted
   * it, run_after less the same statement's updated_at). A hub that dies first leaves it to the next nudge.
   */
  private announceAt(at: number): void {
    this.later(Math.max(0, at - Date.now()) + 50, () => {
      void this.announce().catch((err) => this.d.log.warn('could not announce a retry', { error: String(err) }))
    })
  }

  /** Whether `agentId` may be offered a task here now. */
  private mayClaim(agentId: string): boolean {
    const peer = this.d.fleet.get(agentId)?.peer
    return !this.closed && !!peer && this.reconciled.has(peer) && this.d.fleet.isAvailable(agentId) && this.d.holds(agentId)
  }

  private offer(agentId: string): void {
    if (!this.mayClaim(agentId)) return
    if (this.busy.has(agentId)) this.again.add(agentId)
    else this.claims.freed()
  }

  private done(agentId: string): void {
    this.busy.delete(agentId)
    if (this.again.delete(agentId)) this.offer(agentId)
  }

  /** A task claimed for `row.agent_id`: sent to it, or given back if the agent went meanwhile. */
  private async handOver(row: TaskRow): Promise<void> {
    const agentId = row.agent_id!
    const rec = this.d.fleet.get(agentId)
    this.changed(row.task_id, row)
    if (!rec || !this.d.fleet.isAvailable(agentId)) {
      // A restart or drain came in while claiming: give it back, not counted as an attempt.
      this.changed(row.task_id, await this.d.store.requeue(row.task_id, agentId, false) ?? undefined)
      await this.announce()
      return
    }
    this.d.fleet.assign(rec, row.task_id)
    this.d.fleet.bus.sendToAgent(agentId, { type: 'task_assign', task_id: row.task_id, input: row.input, timeout_ms: row.timeout_ms })
    this.armAccept(rec, row.task_id)
  }

  private armAccept(rec: AgentRecord, taskId: string): void {
    this.disarmAccept(taskId)
    this.acceptTimers.set(taskId, setTimeout(() => {
      this.acceptTimers.delete(taskId)
      if (rec.task_id !== taskId) return
      this.d.log.warn('task not accepted in time', { task_id: taskId, agent_id: rec.agent_id })
      void this.takeBack(rec, taskId, true).catch((err) => this.d.log.warn('could not requeue task', { task_id: taskId, error: String(err) }))
    }, this.d.acceptTimeoutMs))
  }

  private disarmAccept(taskId: string | null): void {
    if (taskId === null) return
    const timer = this.acceptTimers.get(taskId)
    if (timer) clearTimeout(timer)
    this.acceptTimers.delete(taskId)
  }

  private async takeBack(rec: AgentRecord, taskId: string, counted: boolean): Promise<void> {
    const row = await this.d.store.requeue(taskId, rec.agent_id, counted)
    if (row) this.changed(taskId, row)
    this.d.fleet.release(rec, taskId)
    if (row?.status === 'queued') await this.announce()
  }

  accepted(rec: AgentRecord, taskId: string): void {
    this.disarmAccept(taskId)
    const now = this.immediate
    if (now) return this.reports.after(rec, () => now.accepted(rec, taskId))
    this.reports.after(rec, () => this.saves.run(`accept ${taskId}`, rec, async () => {
      const started = await this.d.store.start(taskId, rec.agent_id)
      if (started === SUPERSEDED) return // its outcome came before it was sent, and is saved in its place
      if (started) {
        this.changed(taskId, started)
        return this.d.fleet.taskStarted(rec)
      }
      const row = await this.d.store.get(taskId)
      const ours = row && row.agent_id === rec.agent_id && (row.status === 'working' || row.status === 'assigned')
      // Given to another agent meanwhile: this copy must not run twice.
      if (!ours) this.d.fleet.bus.sendToAgent(rec.agent_id, { type: 'task_cancel', task_id: taskId })
    }))
  }

  finished(rec: AgentRecord, taskId: string, outcome: Exclude<TaskOutcome, { kind: 'interrupted' }>): void {
    this.disarmAccept(taskId)
    // The same limit as one hub's (outcome-text.ts).
    const checked = withinResultLimit(outcome)
    const stored: StoredOutcome = checked.kind === 'failed' ? { ok: false, error: checked.error } : { ok: true, result: checked.result }
    // Its output's save to wait for first: the round trip below (none on one hub: output is kept as it comes).
    const now = this.d.outputWritten ? undefined : this.immediate
    if (now) return this.reports.after(rec, () => now.finished(rec, taskId, stored))
    this.reports.after(rec, () => this.saves.run(`complete ${taskId}`, rec, async () => {
      await this.d.outputWritten?.(taskId)
      const { task: row, superseded } = await this.d.store.complete(taskId, rec.agent_id, stored)
      // As its accept's save would have: a graceful restart asked for meanwhile waits for the task.
      if (superseded) this.d.fleet.taskStarted(rec)
      this.changed(taskId, row ?? undefined)
      // Failed with retries left: queued again, claimable once its delay has passed.
      if (row?.status === 'queued' && row.run_after !== null) this.announceAt(Date.now() + row.run_after - row.updated_at)
      // Acknowledged only once stored: until then the sidecar keeps the outcome and resends it.
      this.d.fleet.bus.sendToAgent(rec.agent_id, { type: 'task_ack', task_id: taskId })
      this.d.fleet.release(rec, taskId)
    }))
  }

  interrupted(rec: AgentRecord, taskId: string, reason: string, started = true): void {
    this.disarmAccept(taskId)
    this.d.log.info('task interrupted', { task_id: taskId, agent_id: rec.agent_id, reason, started })
    const counted = countsAsAttempt(reason, started)
    const now = this.immediate
    if (now) return this.reports.after(rec, () => now.interrupted(rec, taskId, counted))
    this.reports.after(rec, () => this.saves.run(`requeue ${taskId}`, rec, async () => {
      await this.takeBack(rec, taskId, counted)
      this.d.fleet.bus.sendToAgent(rec.agent_id, { type: 'task_ack', task_id: taskId })
    }))
  }

  /** Reconciles what the cluster's rows and a (re)identified sidecar each believe is in flight. */
  identified(rec: AgentRecord, activeTaskId: string | null): void {
    const now = this.immediate
    if (now) return this.settled(rec, now.identified(rec, activeTaskId)) // no round trip: settled in this step
    this.busy.add(rec.agent_id)
    this.saves.run(`identify ${++this.identifies}`, rec, async () => {
      const { store } = this.d
      for (const held of await store.heldBy(rec.agent_id)) {
        // The sidecar no longer has it (lost before it was accepted, or cut short): run it again.
        if (held.task_id !== activeTaskId) {
          const row = await store.requeue(held.task_id, rec.agent_id, lostCountsAsAttempt(held.status))
          if (row) this.changed(held.task_id, row)
          if (row?.status === 'queued') await this.announce()
        }
      }
      let holding: string | null = null
      if (activeTaskId) {
        if (await store.adopt(activeTaskId, rec.agent_id)) {
          holding = activeTaskId
          this.changed(activeTaskId)
        }
        else {
          const row = await store.get(activeTaskId)
          // A finished task's late result is acknowledged (and ignored) when it arrives.
          if (row?.status === 'cancelled') {
            // Busy until its sidecar reports the stopped task: no next task beside one still dying.
            this.d.fleet.bus.sendToAgent(rec.agent_id, { type: 'task_cancel', task_id: activeTaskId, reason: 'cancelled' })
            holding = activeTaskId
            this.releaseLater(rec.agent_id, activeTaskId)
          } else if (row?.status !== 'completed' && row?.status !== 'failed') {
            this.d.fleet.bus.sendToAgent(rec.agent_id, { type: 'task_cancel', task_id: activeTaskId })
          }
        }
      }
      this.settled(rec, holding)
    }, this.reports.begin(rec.peer, () => this.done(rec.agent_id)))
  }

  private settled(rec: AgentRecord, holding: string | null): void {
    if (rec.peer) this.reconciled.add(rec.peer)
    this.d.fleet.holding(rec, holding)
  }

  disconnected(rec: AgentRecord): void {
    // The grace period runs on the database's clock, wherever the agent comes back (sweep.ts).
    this.disarmAccept(rec.task_id)
  }

  close(): void {
    this.closed = true
    this.claims.close()
    this.saves.close()
    this.unsubscribe()
    for (const timer of this.acceptTimers.values()) clearTimeout(timer)
    for (const timer of this.retryTimers) clearTimeout(timer)
    this.acceptTimers.clear()
    this.retryTimers.clear()
  }
}
