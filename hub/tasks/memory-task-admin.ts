/**
 * One hub's task answers (task-admin.ts) over its memory store: the task owner creates and
 * cancels, its fleet says whom a fan-out reaches. An answer waits for the task file's save; a
 * cancel whose save fails stays in memory and is saved when the disk is back.
 */
import type { Fleet } from '../agents/fleet.ts'
import { hasLabels } from '../../shared/labels.ts'
import { QueueFull } from '../security/queue-cap.ts'
import { StorageUnavailable } from '../api/admin.ts'
import type { TaskFacts } from '../api/views.ts'
import type { HubTaskOwner } from './hub-task-owner.ts'
import type { TaskAdmin } from './task-admin.ts'

export interface MemoryTaskAdminDeps {
  fleet: Fleet
  tasks: Pick<HubTaskOwner, 'create' | 'get' | 'list' | 'cancel' | 'durable' | 'queuedCount'>
  /** AGENTCOM_MAX_QUEUED_TASKS. Default: no cap. */
  maxQueuedTasks?: number
}

export function createMemoryTaskAdmin({ fleet, tasks, maxQueuedTasks = Infinity }: MemoryTaskAdminDeps): TaskAdmin {
  /** The task as it is now: the record changes on once dispatched, the answer shows it as it was. */
  const copy = (task: Readonly<TaskFacts>): TaskFacts => ({ ...task })
  return {
    async insert(task) {
      if (tasks.queuedCount >= maxQueuedTasks) throw new QueueFull(maxQueuedTasks)
      const created = tasks.create(task.input, task.pinned, task.timeout_ms, task.extras)
      const inserted = copy(created.task)
      if (!(await created.saved)) throw new StorageUnavailable('the task could not be saved')
      return inserted
    },
    async insertForAll(task) {
      const wanted = task.extras.labels
      const targets = fleet.list().filter((rec) => rec.peer !== null && !rec.drained && !rec.quarantined && hasLabels(rec.labels, wanted))
      // All or none: a fan-out that would pass the cap creates no task.
      if (tasks.queuedCount + targets.length > maxQueuedTasks) throw new QueueFull(maxQueuedTasks)
      const created = targets.map((rec) => tasks.create(task.input, rec.agent_id, task.timeout_ms, task.extras))
      const inserted = created.map((c) => copy(c.task))
      if ((await Promise.all(created.map((c) => c.saved))).includes(false)) throw new StorageUnavailable('the tasks could not be saved')
      return inserted
    },
    // Reads give the records themselves: admin.ts views them as soon as they are read.
    get: async (taskId) => tasks.get(taskId) ?? null,
    list: async (query) => tasks.list(query),
    async cancel(taskId) {
      const answer = tasks.cancel(taskId)
      if (!answer.ok) return answer
      const cancelled = copy(answer.task)
      // Answered once saved; a save that fails keeps the cancel in memory, saved when the disk is back.
      await tasks.durable().catch(() => {
        throw new StorageUnavailable('the cancel could not be saved')
      })
      return { ok: true, task: cancelled }
    },
  }
}
