/**
 * The two moments the views cannot tell exactly, taken where they happen without touching the
 * engines: a task is created when the admin backend has saved it (the 201), and its duration
 * starts when its agent's task_accepted reaches this hub.
 */
import type { AdminBackend } from '../api/admin.ts'
import type { TaskOwner } from '../cluster-seam.ts'
import type { FleetCounters } from './fleet-counters.ts'

export function countTaskCreation(admin: AdminBackend, counters: Pick<FleetCounters, 'taskCreated'>): AdminBackend {
  return {
    ...admin,
    async createTask(...args) {
      const task = await admin.createTask(...args)
      counters.taskCreated()
      return task
    },
    async createTasksForAll(...args) {
      const tasks = await admin.createTasksForAll(...args)
      for (let i = 0; i < tasks.length; i++) counters.taskCreated()
      return tasks
    },
  }
}

export function timeTaskAcceptance<T extends TaskOwner>(owner: T, counters: Pick<FleetCounters, 'taskAccepted'>): TaskOwner {
  return {
    identified: (rec, activeTaskId) => owner.identified(rec, activeTaskId),
    disconnected: (rec) => owner.disconnected(rec),
    accepted: (rec, taskId) => {
      counters.taskAccepted(taskId)
      owner.accepted(rec, taskId)
    },
    finished: (rec, taskId, outcome) => owner.finished(rec, taskId, outcome),
    interrupted: (rec, taskId, reason, started) => owner.interrupted(rec, taskId, reason, started),
  }
}
