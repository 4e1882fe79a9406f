/**
 * Tasks kept where several hubs share them (a cluster's rows), as createHub is handed them
 * (HubStore.tasks): the store's named operations, how this hub claims from it, and how every hub
 * is told of queued work. Built by whoever knows that store (hub/cluster/runtime.ts) over the
 * hub's fleet and settings; the hub's task owner (hub-task-owner.ts) runs the one engine over it.
 */
import type { Fleet } from '../agents/fleet.ts'
import type { Logger } from '../../shared/log.ts'
import type { ClaimPath } from './claim-path.ts'
import type { TaskOutputStore } from './output.ts'
import type { KeptTask, TaskQueueStore } from './task-queue-store.ts'
import type { TaskAdmin, TaskAdminHere } from './task-admin.ts'

export interface SharedTasks<T extends KeptTask = KeptTask> {
  store: TaskQueueStore<T>
  claimPath: ClaimPath<T>
  /** Tells every hub (this one too) that queued work may be waiting. */
  nudgeAll(): Promise<void>
  /** Task output, readable from every hub; an outcome is stored once its output before it is. */
  outputs: TaskOutputStore
  /** Tasks of the whole fleet waiting for an agent (GET /metrics). */
  queuedCount(): Promise<number>
  /** The admin API's task answers over the shared store, told of this hub's engine (the task owner opens them). */
  admin(here: TaskAdminHere): TaskAdmin
}

/** What the hub gives the shared tasks it is handed, to build them over. */
export interface SharedTasksHub {
  fleet: Fleet
  log: Logger
  /** A task taken back this many times fails. */
  maxAttempts: number
  /** AGENTCOM_MAX_QUEUED_TASKS, over every hub's queue. */
  maxQueuedTasks: number
}

export type OpenSharedTasks = (hub: SharedTasksHub) => SharedTasks
