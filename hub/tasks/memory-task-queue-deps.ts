/** What one hub's task store (memory-task-queue-store.ts) is given. */
import type { Logger } from '../../shared/log.ts'
import type { TaskStore } from './task-store.ts'

/** What the store asks of the hub's agents, as the cluster's statements read the agents' rows. */
export interface TaskAgents {
  /** The agent's labels while it may be given a task (connected here); null: it may not. */
  claimable(agentId: string): readonly string[] | null
  /** Since when (epoch ms) the agent has had no live connection; null while it has one; undefined: unknown here. */
  goneSince(agentId: string): number | null | undefined
}

export interface MemoryTaskQueueStoreDeps {
  now(): number
  log: Logger
  agents: TaskAgents
  /** A task taken back this many times fails (AGENTCOM_MAX_TASK_ATTEMPTS). */
  maxAttempts: number
  /** AGENTCOM_MAX_QUEUED_TASKS. Default: no cap. */
  maxQueuedTasks?: number
  /** Finished tasks kept (and at most 64 MiB of them, task-retention.ts); the oldest go first. */
  maxFinished: number
  /** The data dir's task file (task-store.ts); null: memory only. */
  store: TaskStore | null
  /** While saves fail, they are tried again this often. */
  storeRetryMs: number
  /** Finished tasks no longer kept: their output goes too. */
  onForget?(taskIds: string[]): void
}
