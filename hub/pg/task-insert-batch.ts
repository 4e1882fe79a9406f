/**
 * POST /api/admin/tasks in cluster mode, group-committed (hub/pg/write-batch.ts): the tasks
 * created while a batch is being written go out in the next, one statement, one commit and one
 * nudge to every hub for them all (hub/pg/task-insert.ts insertTasksNudged); each is answered
 * once its batch committed. Measured under the cluster_task_throughput load (32 creations in
 * flight), an insert and a NOTIFY per task before.
 */
import { isDataError, type Sql } from './connect.ts'
import { insertTaskNudged, insertTasksNudged } from './task-insert.ts'
import type { NewTask, TaskRow } from './task-queue.ts'
import { WriteBatch } from './write-batch.ts'

export interface TaskInserts {
  /** The task inserted, queued and announced (committed); null when near the queue cap (nothing done). */
  insert(task: NewTask): Promise<TaskRow | null>
}

export function createTaskInserts(sql: Sql, o: { maxQueued?: number; hubId: string }): TaskInserts {
  const batch = new WriteBatch<NewTask, TaskRow | null | Error>({
    write: (tasks) => insertTasksNudged(sql, tasks, o).catch((err: unknown) => {
      // Refused as data (an input jsonb cannot hold): each on its own, so only that one fails.
      if (!isDataError(err) || tasks.length === 1) throw err
      return Promise.all(tasks.map((task) => insertTaskNudged(sql, task, o).catch((e: unknown) => e instanceof Error ? e : new Error(String(e)))))
    }),
  })
  return {
    async insert(task) {
      const row = await batch.add(task)
      if (row instanceof Error) throw row
      return row
    },
  }
}
