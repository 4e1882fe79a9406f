/**
 * How the task engine hands out queued tasks over a store that claims in memory (one hub's,
 * hub/tasks/memory-task-queue-store.ts): no claim loop polling a database, but one pass per tick
 * on the events that may pair a task with an agent (a task queued, an agent freed, a retry due),
 * over the fleet's free agents, claimed and assigned in the same synchronous step, so no restart
 * or drain slips in between. The cluster claims through ClaimLoop (claim-loop.ts) instead.
 */
import type { Fleet } from '../agents/fleet.ts'
import type { ImmediateTaskOps, KeptTask } from './task-queue-store.ts'

export interface ImmediateDispatchDeps<T extends KeptTask> {
  ops: ImmediateTaskOps<T>
  fleet: Fleet
  /** Whether the agent may be offered a task now (reconciled, free, no identify under way). */
  mayClaim(agentId: string): boolean
  /** Gives a task just claimed (assigned in memory, its save under way) to its agent. */
  handOver(task: T): void
}

export class ImmediateDispatch<T extends KeptTask = KeptTask> {
  private scheduled = false
  private closed = false

  constructor(private readonly d: ImmediateDispatchDeps<T>) {}

  /** No agent waits for a nudge here: every event schedules a pass. */
  isIdle(_agentId: string): boolean {
    return false
  }

  /** Queued work may be waiting. */
  nudge(): void {
    this.schedule()
  }

  /** An agent may have become free. */
  freed(): void {
    this.schedule()
  }

  close(): void {
    this.closed = true
  }

  /** One pass per tick, however many events came in it. */
  private schedule(): void {
    if (this.scheduled || this.closed || this.d.ops.queuedCount === 0) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      if (!this.closed) this.dispatch()
    })
  }

  private dispatch(): void {
    for (const task of this.d.ops.claimNow(this.free()).tasks) this.d.handOver(task)
  }

  /** The free agents that may be offered a task, read only as far as the claim needs. */
  private *free(): Generator<string> {
    for (const agentId of this.d.fleet.available) if (this.d.mayClaim(agentId)) yield agentId
  }
}
