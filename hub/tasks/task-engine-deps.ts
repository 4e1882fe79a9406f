/** What the task engine (task-engine.ts) is given. */
import type { Fleet } from '../agents/fleet.ts'
import type { ChangeFeed } from '../events/changes.ts'
import type { Logger } from '../../shared/log.ts'
import type { OverdueTask } from './overdue.ts'
import type { ClaimPath } from './claim-path.ts'
import type { ImmediateTaskOps, KeptTask, TaskQueueStore } from './task-queue-store.ts'

/** `TaskRow`: the store's record of a task (hub/pg/task-queue.ts's row in a cluster). */
export interface TaskEngineDeps<TaskRow extends KeptTask> {
  /** Where the tasks are kept: every change goes through its named operations. */
  store: TaskQueueStore<TaskRow>
  /**
   * The store's operations made in memory at once, when it has them (one hub's memory store, the
   * same object): tasks are handed out on events (immediate-dispatch.ts) and reports settled in
   * the step they arrive, waiting only for the save the contract asks for.
   */
  immediate?: ImmediateTaskOps<TaskRow>
  /**
   * How queued tasks are claimed for this hub's free agents when the store has no immediate
   * operations (a cluster: hub/cluster/claim-loop.ts, within its lease). Required then; unused otherwise.
   */
  claimPath?: ClaimPath<TaskRow>
  /** Tells every hub (this one too) that queued work may be waiting: the cluster's bus. */
  nudgeAll(): Promise<void>
  fleet: Fleet
  changes: ChangeFeed
  log: Logger
  /** Whether this hub holds the agent in the cluster (ClusterPresence.holds). */
  holds: (agentId: string) => boolean
  acceptTimeoutMs: number
  /** Resolves once the task's output received so far is stored: its outcome waits for it. */
  outputWritten?: (taskId: string) => Promise<void>
  /** Durability's backstop for an agent that never reports its task: a healing action here. */
  onOverdue(overdue: OverdueTask): void
}
