/** The task board's types and options (see tasks.ts). */
import type { Clock } from '../../shared/time.ts'
import type { Logger } from '../../shared/log.ts'
import type { AgentBus } from '../sockets/bus.ts'
import type { ChangeFeed } from '../events/changes.ts'
import type { StoredTask, TaskStore } from './task-store.ts'
import type { OverdueTask } from './task-timers.ts'
import { TASK_EXTRAS_DEFAULTS, type TaskExtras } from './rules.ts'

export type { TaskStatus } from './rules.ts'

/** A task as the board holds it: every field of StoredTask set (restore fills the defaults). */
export type TaskRecord = Required<StoredTask>

/** A new task, queued: what `POST /api/admin/tasks` asked for, the defaults for the rest. */
export function newTaskRecord(
  o: { taskId: string; now: number; defaultTimeoutMs: number },
  input: unknown, pinned: string | null, timeoutMs: number | undefined, extras: Partial<TaskExtras>,
): TaskRecord {
  const given = Object.fromEntries(Object.entries(extras).filter(([, v]) => v !== undefined)) as Partial<TaskExtras>
  return {
    task_id: o.taskId, status: 'queued', input, pinned, agent_id: pinned,
    attempts: 0, result: null, error: null, timeout_ms: timeoutMs ?? o.defaultTimeoutMs,
    created_at: o.now, updated_at: o.now, assigned_at: null,
    ...TASK_EXTRAS_DEFAULTS, ...given, retried: 0, run_after: null,
  }
}

export interface TaskBoardOptions {
  clock: Clock
  log: Logger
  newId: () => string
  /** An assignment not accepted within this is queued again. */
  acceptTimeoutMs: number
  /** How long a disconnected agent has to come back with its task; and an assigned task's
   *  time past its timeout before it is overdue. */
  graceMs: number
  /** A cancelled task's agent that has not reported it this long after the cancel is freed anyway. Default 15 s. */
  cancelGraceMs?: number
  /** A task interrupted this many times fails instead of running again. */
  maxAttempts: number
  defaultTimeoutMs: number
  /** Finished tasks kept for GET (and at most 64 MiB of them); the oldest go first. */
  maxFinished: number
  /** Where tasks are saved so a hub restart loses none (null: memory only), retried this often while failing. */
  store?: TaskStore | null
  storeRetryMs: number
  changes: ChangeFeed
  bus: AgentBus
  /** Finished tasks no longer kept: their output goes too. */
  onForget?: (taskIds: string[]) => void
  /** The agent holding the task never reported it (see armOverdue). Called before the agent
   *  is freed, so a restart commanded here keeps it from the next dispatch. */
  onOverdue(overdue: OverdueTask): void
}
