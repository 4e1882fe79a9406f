/**
 * One hub's AdminStore (admin-store.ts): its agents are the Fleet's records, its tasks the task
 * board's, healing's switch the healing runtime's, all in this process's memory and saved to the
 * data dir. A task answer waits for the task file's save; a drain's or resume's for the fleet
 * state's (hub/store/saved-answers.ts, around the whole backend).
 */
import type { Fleet } from '../agents/fleet.ts'
import { pageAgents } from '../agents/agent-pages.ts'
import type { HubTaskOwner } from '../tasks/hub-task-owner.ts'
import type { HealingRuntime } from '../healing/healing-runtime.ts'
import { hasLabels } from '../../shared/labels.ts'
import { QueueFull } from '../security/queue-cap.ts'
import { StorageUnavailable } from './admin.ts'
import type { AdminStore } from './admin-store.ts'
import { recordView, type TaskFacts } from './views.ts'

export interface MemoryAdminStoreDeps {
  fleet: Fleet
  tasks: Pick<HubTaskOwner, 'create' | 'get' | 'list' | 'cancel' | 'durable' | 'queuedCount'>
  healing: Pick<HealingRuntime, 'view' | 'pause' | 'resume' | 'resumeAgent'>
  hubId: string
  /** AGENTCOM_MAX_QUEUED_TASKS. Default: no cap. */
  maxQueuedTasks?: number
}

export function createMemoryAdminStore({ fleet, tasks, healing, hubId, maxQueuedTasks = Infinity }: MemoryAdminStoreDeps): AdminStore {
  /** The task as it is now: the record changes on once dispatched, the answer shows it as it was. */
  const copy = (task: Readonly<TaskFacts>): TaskFacts => ({ ...task })
  return {
    agent(agentId) {
      const rec = fleet.get(agentId)
      return rec ? recordView(rec, hubId) : null
    },
    async agents(query, labels) {
      const all = labels.length === 0 ? fleet.list() : fleet.list().filter((rec) => hasLabels(rec.labels, labels))
      const page = pageAgents(all, (rec) => fleet.status(rec), query)
      const agents = page.agents.map((rec) => recordView(rec, hubId))
      return page.next_cursor === undefined ? { agents } : { agents, next_cursor: page.next_cursor }
    },
    // A resume lifts a quarantine too: healing's action ends with it.
    setDrained: async (agentId, drained) => (drained ? fleet.drain(agentId) : healing.resumeAgent(agentId)) !== undefined,
    async insertTask(task) {
      if (tasks.queuedCount >= maxQueuedTasks) throw new QueueFull(maxQueuedTasks)
      const created = tasks.create(task.input, task.pinned, task.timeout_ms, task.extras)
      const inserted = copy(created.task)
      if (!(await created.saved)) throw new StorageUnavailable('the task could not be saved')
      return inserted
    },
    async insertTaskForAll(task) {
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
    task: async (taskId) => tasks.get(taskId) ?? null,
    tasks: async (query) => tasks.list(query),
    async cancelTask(taskId) {
      const answer = tasks.cancel(taskId)
      if (!answer.ok) return answer
      const cancelled = copy(answer.task)
      // Answered once saved; a save that fails keeps the cancel in memory, saved when the disk is back.
      await tasks.durable().catch(() => {
        throw new StorageUnavailable('the cancel could not be saved')
      })
      return { ok: true, task: cancelled }
    },
    healing: () => healing.view(),
    pauseHealing: () => healing.pause(),
    resumeHealing: () => healing.resume(),
  }
}
