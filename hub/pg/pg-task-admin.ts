/**
 * The cluster's task answers (hub/tasks/task-admin.ts) over the rows, so every hub answers
 * alike. A creation goes through the task store's insert (committed, every hub nudged at
 * commit); a fan-out and a cancel are one transaction each. A cancel of a task in flight is a
 * row first and a bus message second, to the hub holding the agent's socket; this hub stops its
 * own at once (`here.cancelHere`).
 */
import type { TaskFacts } from '../api/views.ts'
import { fanOutTargets } from './fan-out-rows.ts'
import { cancelVerdict, type TasksQuery } from '../tasks/rules.ts'
import type { CancelOutcome, NewTask, TaskAdmin, TaskAdminHere } from '../tasks/task-admin.ts'
import { TASK_CANCEL } from '../tasks/task-engine.ts'
import { inTransaction, type Sql } from './connect.ts'
import { ALL_HUBS, type PgBus } from './notify-bus.ts'
import { cancelTask, getTask, insertTask, type TaskRow } from './task-queue.ts'
import { TASKS_NUDGE, type PgTaskStore } from './pg-task-store.ts'
import { assertQueueRoom } from './queue-cap-rows.ts'

export interface PgTaskAdminDeps {
  sql: Sql
  bus: PgBus
  hubId: string
  /** Where tasks are kept (a creation goes through its insert, which checks the cap). */
  store: Pick<PgTaskStore, 'insert' | 'get' | 'list'>
  /** AGENTCOM_MAX_QUEUED_TASKS over the whole cluster's queue, for a fan-out. Default: no cap. */
  maxQueuedTasks?: number
  here: TaskAdminHere
}

export class PgTaskAdmin implements TaskAdmin {
  constructor(private readonly d: PgTaskAdminDeps) {}

  async insert(task: NewTask): Promise<TaskFacts> {
    // Committed before the answer, and every hub nudged at commit to try its free agents.
    const row = await this.d.store.insert({ task_id: this.d.here.newId(), ...task })
    this.d.here.changed(row.task_id, row)
    return row
  }

  async insertForAll(task: Omit<NewTask, 'pinned'>): Promise<TaskFacts[]> {
    const { sql, bus, here, maxQueuedTasks } = this.d
    const rows = await inTransaction(sql, async (tx) => {
      const targets = await fanOutTargets(tx, task.extras.labels)
      const tasks: TaskRow[] = []
      for (const agentId of targets) {
        // Past the cap the transaction rolls back: a fan-out creates all its tasks or none.
        if (maxQueuedTasks !== undefined) await assertQueueRoom(tx, maxQueuedTasks)
        tasks.push(await insertTask(tx, { task_id: here.newId(), ...task, pinned: agentId }))
      }
      if (tasks.length > 0) await bus.publish(ALL_HUBS, { ...TASKS_NUDGE }, tx)
      return tasks
    })
    for (const row of rows) here.changed(row.task_id, row)
    return rows
  }

  get(taskId: string): Promise<TaskFacts | null> {
    return this.d.store.get(taskId)
  }

  list(query: TasksQuery) {
    return this.d.store.list(query)
  }

  async cancel(taskId: string): Promise<CancelOutcome> {
    const { sql, bus, hubId, here } = this.d
    const cancelled = await inTransaction(sql, async (tx) => {
      const done = await cancelTask(tx, taskId)
      // The hub holding the agent stops the task; told at commit (this one, at once, below).
      if (done && cancelVerdict(done.was) === 'cancel_and_signal' && done.holder !== null && done.holder !== hubId && done.row.agent_id !== null) {
        await bus.publish(done.holder, { kind: TASK_CANCEL, agent_id: done.row.agent_id, task_id: taskId }, tx)
      }
      return done
    })
    if (!cancelled) {
      const row = await getTask(sql, taskId)
      return { ok: false, error: row ? 'task_finished' : 'task_not_found' }
    }
    const { row, was, holder } = cancelled
    if (cancelVerdict(was) === 'cancel_and_signal' && holder === hubId && row.agent_id !== null) here.cancelHere(row.agent_id, taskId)
    here.changed(taskId, row)
    return { ok: true, task: row }
  }
}
