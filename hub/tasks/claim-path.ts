/**
 * How queued tasks reach this hub's free agents over a store with no immediate operations (a
 * cluster's rows): declared here, built by whoever knows that store (hub/cluster/claim-loop.ts:
 * a claim statement per group of free agents, within this hub's lease), and handed to the task
 * engine, so the engine depends on no cluster code. One hub's store hands out tasks in memory
 * (immediate-dispatch.ts), which answers the same three calls.
 */
import type { KeptTask } from './task-queue-store.ts'

/** What the engine asks of its way of handing out tasks. */
export interface TaskClaims {
  /** Whether the agent's last claim found nothing: it waits for the next nudge. */
  isIdle(agentId: string): boolean
  /** Queued work may be waiting: every free agent here may claim. */
  nudge(): void
  /** An agent may have become free. */
  freed(): void
  close(): void
}

/** What the engine gives the claim path it is handed. */
export interface ClaimHooks<T extends KeptTask> {
  /** Whether the agent may be offered a task now (reconciled, held here, free, no identify under way). */
  mayClaim(agentId: string): boolean
  /** Gives a claimed task to its agent (task.agent_id). */
  handOver(task: T): Promise<void>
}

/**
 * A store's claim path: started once by the engine with its hooks. `noted`, when given, is told
 * each change of a task with the record that change left (for the events stream, which then need
 * not read it again: hub/cluster/task-rows.ts).
 */
export interface ClaimPath<T extends KeptTask> {
  start(hooks: ClaimHooks<T>): TaskClaims
  noted?(taskId: string, task: T | undefined): void
}
