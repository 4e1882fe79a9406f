/**
 * What the admin routes ask of the hub, as one async interface: the routes have one code path
 * whether the answer comes from this hub's memory (single hub, `createLocalAdmin` below) or
 * from the cluster's database (hub/cluster/cluster-admin.ts), where commands for an agent on another
 * hub are carried there.
 */
import type { CommandRestart, Fleet, Restart } from '../agents/fleet.ts'
import type { StoreTaskBoard } from '../tasks/store-task-board.ts'
import type { NewRollout } from '../rollouts/rollout-store.ts'
import type { RolloutEngine } from '../rollouts/engine.ts'
import type { HealingRuntime } from '../healing/healing-runtime.ts'
import type { HealingView } from '../healing/healing-policy.ts'
import { agentView, rolloutView, taskView } from './views.ts'
import { pageAgents, type AgentPage, type AgentsQuery } from '../agents/agent-pages.ts'
import { hasLabels } from '../../shared/labels.ts'
import type { TaskExtras, TasksQuery } from '../tasks/rules.ts'
import { QueueFull } from '../security/queue-cap.ts'

export type AgentView = ReturnType<typeof agentView>
export type TaskView = ReturnType<typeof taskView>
export type RolloutView = ReturnType<typeof rolloutView>

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

/** The single hub's answers, from the owners in this process's memory. */
export function createLocalAdmin(
  { fleet, tasks, rollouts, healing, hubId, maxQueuedTasks = Infinity }:
    { fleet: Fleet; tasks: StoreTaskBoard; rollouts: RolloutEngine; healing: Pick<HealingRuntime, 'view' | 'pause' | 'resume' | 'resumeAgent'>; hubId: string; maxQueuedTasks?: number },
): AdminBackend {
  const view = (agentId: string) => {
    const rec = fleet.get(agentId)
    return rec ? agentView(fleet, rec, hubId) : null
  }
  return {
    listAgents: async (query, labels = []) => {
      const all = labels.length === 0 ? fleet.list() : fleet.list().filter((rec) => hasLabels(rec.labels, labels))
      const page = pageAgents(all, (rec) => fleet.status(rec), query)
      const agents = page.agents.map((rec) => agentView(fleet, rec, hubId))
      return page.next_cursor === undefined ? { agents } : { agents, next_cursor: page.next_cursor }
    },
    getAgent: (agentId) => view(agentId),
    restart: async (agentId, cmd) => fleet.commandRestart(agentId, cmd),
    drain: async (agentId) => (fleet.drain(agentId) ? view(agentId) : null),
    // Lifts a quarantine too.
    resume: async (agentId) => (healing.resumeAgent(agentId) ? view(agentId) : null),
    async createTask(input, pinned, timeoutMs, extras) {
      if (tasks.queuedCount >= maxQueuedTasks) throw new QueueFull(maxQueuedTasks)
      const { task, saved } = tasks.create(input, pinned, timeoutMs, extras)
      // The task as created: once saved it may be dispatched before this answer goes out.
      const created = taskView(task)
      if (!(await saved)) throw new StorageUnavailable('the task could not be saved')
      return created
    },
    async createTasksForAll(input, timeoutMs, extras) {
      const wanted = extras.labels ?? []
      const targets = fleet.list().filter((rec) => rec.peer !== null && !rec.drained && !rec.quarantined && hasLabels(rec.labels, wanted))
      // All or none: a fan-out that would pass the cap creates no task.
      if (tasks.queuedCount + targets.length > maxQueuedTasks) throw new QueueFull(maxQueuedTasks)
      const created = targets.map((rec) => tasks.create(input, rec.agent_id, timeoutMs, extras))
      const views = created.map(({ task }) => taskView(task))
      const saved = await Promise.all(created.map((c) => c.saved))
      if (saved.includes(false)) throw new StorageUnavailable('the tasks could not be saved')
      return views
    },
    getTask: async (taskId) => {
      const task = tasks.get(taskId)
      return task ? taskView(task) : null
    },
    listTasks: async (query) => {
      const page = tasks.list(query)
      return { tasks: page.tasks.map(taskView), next_cursor: page.next_cursor }
    },
    async cancelTask(taskId) {
      const answer = tasks.cancel(taskId)
      if (!answer.ok) return answer
      const view = taskView(answer.task)
      // Answered once saved; a save that fails keeps the cancel in memory, saved when the disk is back.
      await tasks.durable().catch(() => {
        throw new StorageUnavailable('the cancel could not be saved')
      })
      return { ok: true, task: view }
    },
    createRollout: (request) => rollouts.create(request),
    getRollout: (rolloutId) => rollouts.view(rolloutId),
    cancelRollout: (rolloutId) => rollouts.cancel(rolloutId),
    healing: () => healing.view(),
    pauseHealing: () => healing.pause(),
    resumeHealing: () => healing.resume(),
  }
}
