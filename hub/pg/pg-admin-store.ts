/**
 * The cluster's AdminStore (hub/api/admin-store.ts): agents and tasks from the cluster's rows,
 * so every hub answers alike. A command for an agent (the drained flag, a cancel) is a row
 * first and a bus message second, to the hub holding the agent's socket, which carries it out;
 * this hub carries out its own at once. A database that cannot be reached, or does not answer
 * within REQUEST_DEADLINE_MS, is a 503 (`bounded`).
 *
 * Built with the runtime (it is the hub's `store.admin`), it is attached to the hub's cluster
 * owners (task engine, healing, presence) once createHub has built them (`attach`).
 */
import type { AdminStore, NewTask } from '../api/admin-store.ts'
import type { TaskFacts } from '../api/views.ts'
import type { HealingView } from '../healing/healing-policy.ts'
import { storageBound } from '../cluster/deadline.ts'
import { fanOutTargets } from '../tasks/pg-fan-out.ts'
import { cancelVerdict } from '../tasks/rules.ts'
import { TASK_CANCEL } from '../tasks/task-engine.ts'
import { inTransaction, type Sql } from './connect.ts'
import { ALL_HUBS, type PgBus } from './notify-bus.ts'
import { agentRowView, getAgentView, listAgentViews, setDrained } from './agent-views.ts'
import { liftQuarantine } from './healing-rows.ts'
import { cancelTask, getTask, insertTask, type TaskRow } from './task-queue.ts'
import { TASKS_NUDGE, type PgTaskStore } from './pg-task-store.ts'
import { assertQueueRoom } from './queue-cap-rows.ts'

export interface PgAdminStoreDeps {
  sql: Sql
  bus: PgBus
  hubId: string
}

/** The hub's cluster owners the store hands its changes to, given once they exist. */
export interface PgAdminLocal {
  newId: () => string
  /** AGENTCOM_MAX_QUEUED_TASKS over the whole cluster's queue (a fan-out's; an insert's is the task store's). Default: no cap. */
  maxQueuedTasks?: number
  /** Where tasks are kept (a creation goes through its insert). */
  taskStore: Pick<PgTaskStore, 'insert' | 'get' | 'list'>
  /** Healing's view and switch; `changed`: actions another write ended (a resume lifts a quarantine). */
  healing: { view(): Promise<HealingView>; pause(): Promise<HealingView>; resume(): Promise<HealingView>; changed(actionIds: string[]): void }
  /** Carry out a drain or resume here, at once, for an agent this hub holds (no round trip through the bus). */
  drained(agentId: string, drained: boolean): void
  /** An agent no hub holds changed in its row (a drain or resume while offline): for the events stream. */
  agentChanged?(agentId: string): void
  /** A task's row changed here (for the events stream). */
  taskChanged(taskId: string, row?: TaskRow): void
  /** A task in flight on an agent this hub holds was cancelled: tell the agent to stop it. */
  cancelTask?(agentId: string, taskId: string): void
}

export class PgAdminStore implements AdminStore {
  private attached: PgAdminLocal | null = null

  constructor(private readonly d: PgAdminStoreDeps) {}

  attach(local: PgAdminLocal): void {
    this.attached = local
  }

  private get local(): PgAdminLocal {
    if (!this.attached) throw new Error('the cluster admin store is used before the hub attached it')
    return this.attached
  }

  bounded<T>(work: () => Promise<T>): Promise<T> {
    return storageBound(work)
  }

  async agent(agentId: string) {
    const row = await getAgentView(this.d.sql, agentId)
    return row ? agentRowView(row) : null
  }

  async agents(query: Parameters<AdminStore['agents']>[0], labels: readonly string[]) {
    // One row past the page tells whether there is a next page (as pageAgents does).
    const rows = await listAgentViews(this.d.sql, {
      status: query.status, version: query.version, after: query.cursor, limit: query.limit === undefined ? undefined : query.limit + 1, labels,
    })
    const agents = rows.slice(0, query.limit).map(agentRowView)
    if (query.limit === undefined) return { agents }
    return { agents, next_cursor: rows.length > query.limit ? agents[agents.length - 1].agent_id : null }
  }

  async setDrained(agentId: string, drained: boolean): Promise<boolean> {
    const { sql, bus, hubId } = this.d
    let lifted: string[] = []
    const held = await inTransaction(sql, async (tx) => {
      const row = await setDrained(tx, agentId, drained)
      if (row?.live && row.hub_id !== null && row.hub_id !== hubId) {
        await bus.publish(row.hub_id, { kind: drained ? 'drain' : 'resume', agent_id: agentId }, tx)
      }
      // A resume lifts a quarantine (setDrained clears the flag): its action too, whichever hub.
      if (row && !drained) lifted = await liftQuarantine(tx, agentId)
      return row
    })
    if (!held) return false
    this.local.healing.changed(lifted)
    if (held.live && held.hub_id === hubId) this.local.drained(agentId, drained)
    // Held nowhere: no hub's fleet will publish it, so this one does (one hub shows it too).
    else if (!held.live) this.local.agentChanged?.(agentId)
    return true
  }

  async insertTask(task: NewTask): Promise<TaskFacts> {
    // Committed before the answer, and every hub nudged at commit to try its free agents.
    const row = await this.local.taskStore.insert({ task_id: this.local.newId(), ...task })
    this.local.taskChanged(row.task_id, row)
    return row
  }

  async insertTaskForAll(task: Omit<NewTask, 'pinned'>): Promise<TaskFacts[]> {
    const local = this.local
    const rows = await inTransaction(this.d.sql, async (tx) => {
      const targets = await fanOutTargets(tx, task.extras.labels)
      const tasks: TaskRow[] = []
      for (const agentId of targets) {
        // Past the cap the transaction rolls back: a fan-out creates all its tasks or none.
        if (local.maxQueuedTasks !== undefined) await assertQueueRoom(tx, local.maxQueuedTasks)
        tasks.push(await insertTask(tx, { task_id: local.newId(), ...task, pinned: agentId }))
      }
      if (tasks.length > 0) await this.d.bus.publish(ALL_HUBS, { ...TASKS_NUDGE }, tx)
      return tasks
    })
    for (const row of rows) local.taskChanged(row.task_id, row)
    return rows
  }

  task(taskId: string): Promise<TaskFacts | null> {
    return this.local.taskStore.get(taskId)
  }

  tasks(query: Parameters<AdminStore['tasks']>[0]) {
    return this.local.taskStore.list(query)
  }

  async cancelTask(taskId: string) {
    const { sql, bus, hubId } = this.d
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
      return { ok: false as const, error: row ? 'task_finished' as const : 'task_not_found' as const }
    }
    const { row, was, holder } = cancelled
    if (cancelVerdict(was) === 'cancel_and_signal' && holder === hubId && row.agent_id !== null) this.local.cancelTask?.(row.agent_id, taskId)
    this.local.taskChanged(taskId, row)
    return { ok: true as const, task: row }
  }

  healing(): Promise<HealingView> {
    return this.local.healing.view()
  }

  pauseHealing(): Promise<HealingView> {
    return this.local.healing.pause()
  }

  resumeHealing(): Promise<HealingView> {
    return this.local.healing.resume()
  }
}
