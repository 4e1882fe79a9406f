/**
 * What the admin routes ask of the hub, as one async interface, and the one backend that answers
 * it (`createAdmin` below) over an AdminStore (admin-store.ts): this hub's memory on a single
 * hub, the cluster's database in cluster mode, where commands for an agent on another hub are
 * carried there. The same answer, field for field, from either store.
 */
import type { CommandRestart, Restart } from '../agents/fleet.ts'
import type { RestartEngine } from '../agents/restart-engine.ts'
import type { NewRollout } from '../rollouts/rollout-store.ts'
import type { RolloutEngine } from '../rollouts/engine.ts'
import type { HealingView } from '../healing/healing-policy.ts'
import { taskView, type AgentView, type RolloutView, type TaskView } from './views.ts'
import type { AgentPage, AgentsQuery } from '../agents/agent-pages.ts'
import { withExtrasDefaults, type TaskExtras, type TasksQuery } from '../tasks/rules.ts'
import type { AdminStore } from './admin-store.ts'
import type { TaskAdmin } from '../tasks/task-admin.ts'

export type { AgentView, RolloutView, TaskView } from './views.ts'

/** A rollout as asked for: without agent_ids, every connected agent that runs under pm2. */
export type RolloutRequest = Omit<NewRollout, 'agent_ids' | 'rollout_id'> & { agent_ids?: string[] }
export type RolloutCreated =
  | { ok: true; rollout: RolloutView }
  | { ok: false; error: 'agent_not_found' | 'not_supervised'; agent_id: string }

/** A restart as the answer to a command shows it. */
export type RestartSummary = Pick<Restart, 'restart_id' | 'reason' | 'mode' | 'state'>

export type RestartAnswer =
  | { ok: true; restart: RestartSummary; already_pending: boolean }
  | { ok: false; error: 'agent_not_connected' | 'not_supervised' }

/** The store behind an answer could not be read or written: the route answers 503. */
export class StorageUnavailable extends Error {}

export type CancelAnswer = { ok: true; task: TaskView } | { ok: false; error: 'task_not_found' | 'task_finished' }

export interface AdminBackend {
  /**
   * Agents by agent id, filtered by `query.status`; one page when `query.limit` is set (then
   * `next_cursor` is set too, null on the last page). Every hub of a cluster answers alike.
   */
  listAgents(query: AgentsQuery, labels?: readonly string[]): Promise<AgentPage<AgentView>>
  /**
   * null: no agent of that id was ever seen. One hub answers at once (no promise), so that an
   * admin GET is answered in the turn it arrived in (dispatch.ts); a cluster reads its rows.
   */
  getAgent(agentId: string): AgentView | null | Promise<AgentView | null>
  restart(agentId: string, cmd: CommandRestart): Promise<RestartAnswer>
  /** The agent after the change; null when unknown. */
  drain(agentId: string): Promise<AgentView | null>
  resume(agentId: string): Promise<AgentView | null>
  /** Resolves once the task is saved (201 promises it survives a hub restart). */
  createTask(input: unknown, pinned: string | null, timeoutMs: number | undefined, extras?: Partial<TaskExtras>): Promise<TaskView>
  /**
   * `"all": true`: one task, pinned, per agent connected, undrained, not quarantined and carrying
   * every label of `extras.labels`, at this moment; resolves once all are saved.
   */
  createTasksForAll(input: unknown, timeoutMs: number | undefined, extras: Partial<TaskExtras>): Promise<TaskView[]>
  getTask(taskId: string): Promise<TaskView | null>
  /** Tasks newest first (task-control/rules.ts, TasksQuery). */
  listTasks(query: TasksQuery): Promise<{ tasks: TaskView[]; next_cursor: string | null }>
  /** Cancels a task not yet finished; resolves once the cancel is saved. */
  cancelTask(taskId: string): Promise<CancelAnswer>
  createRollout(request: RolloutRequest): Promise<RolloutCreated>
  /** null: no such rollout (or it was pruned). */
  getRollout(rolloutId: string): Promise<RolloutView | null>
  /** Stops a running rollout (no new restarts); the rollout as it is now, null if unknown. */
  cancelRollout(rolloutId: string): Promise<RolloutView | null>
  healing(): Promise<HealingView>
  pauseHealing(): Promise<HealingView>
  resumeHealing(): Promise<HealingView>
}

/** What the answers are made with, the same on one hub and in a cluster. */
export interface AdminDeps {
  /** Agents and healing's switch: one hub's memory (memory-admin-store.ts) or the cluster's rows (hub/pg/pg-admin-store.ts). */
  store: AdminStore
  /** The hub's task owner's answers (hub/tasks/hub-task-owner.ts `admin`), over either store. */
  tasks: TaskAdmin
  /** The hub's restart engine (hub/agents/restart-engine.ts), over either store. */
  restarts: Pick<RestartEngine, 'command'>
  /** The hub's rollout engine (hub/rollouts/engine.ts), over either store. */
  rollouts: Pick<RolloutEngine, 'create' | 'view' | 'cancel'>
  /** A task's timeout when the request gives none (createHub's taskTimeoutMs). */
  defaultTimeoutMs: number
}

/**
 * The admin answers, written once over the store's named operations: the same JSON from one
 * hub's memory and from a cluster's rows.
 */
export function createAdmin({ store, tasks, restarts, rollouts, defaultTimeoutMs }: AdminDeps): AdminBackend {
  const bounded = store.bounded?.bind(store) ?? ((work) => work())
  const newTask = (timeoutMs: number | undefined, extras: Partial<TaskExtras> | undefined) => {
    return { timeout_ms: timeoutMs ?? defaultTimeoutMs, extras: withExtrasDefaults(extras) }
  }
  const agentAfter = async (agentId: string, changed: Promise<boolean>) => ((await changed) ? store.agent(agentId) : null)
  return {
    listAgents: (query, labels = []) => bounded(() => store.agents(query, labels)),
    getAgent: (agentId) => {
      const found = store.agent(agentId)
      return found instanceof Promise ? bounded(() => found) : found
    },
    restart: (agentId, cmd) => bounded(() => restarts.command(agentId, cmd)),
    drain: (agentId) => bounded(() => agentAfter(agentId, store.setDrained(agentId, true))),
    // Lifts a quarantine too.
    resume: (agentId) => bounded(() => agentAfter(agentId, store.setDrained(agentId, false))),
    createTask: (input, pinned, timeoutMs, extras) =>
      bounded(async () => taskView(await tasks.insert({ input, pinned, ...newTask(timeoutMs, extras) }))),
    createTasksForAll: (input, timeoutMs, extras) =>
      bounded(async () => (await tasks.insertForAll({ input, ...newTask(timeoutMs, extras) })).map(taskView)),
    getTask: (taskId) => bounded(async () => {
      const task = await tasks.get(taskId)
      return task ? taskView(task) : null
    }),
    listTasks: (query) => bounded(async () => {
      const page = await tasks.list(query)
      return { tasks: page.tasks.map(taskView), next_cursor: page.next_cursor }
    }),
    cancelTask: (taskId) => bounded(async () => {
      const answer = await tasks.cancel(taskId)
      return answer.ok ? { ok: true, task: taskView(answer.task) } : answer
    }),
    createRollout: (request) => bounded(() => rollouts.create(request)),
    getRollout: (rolloutId) => bounded(() => rollouts.view(rolloutId)),
    cancelRollout: (rolloutId) => bounded(() => rollouts.cancel(rolloutId)),
    healing: () => bounded(() => store.healing()),
    pauseHealing: () => bounded(() => store.pauseHealing()),
    resumeHealing: () => bounded(() => store.resumeHealing()),
  }
}
