/**
 * What the admin answers (admin.ts) ask of wherever the fleet's agents and tasks are kept:
 * named operations, each resolved once its change is durable. Two implementations: one hub's
 * memory, saved to its data dir (memory-admin-store.ts), and the cluster's rows
 * (hub/pg/pg-admin-store.ts), where a command for an agent on another hub is a row first and a
 * bus message to that hub second. Views are made by views.ts alone; the rules of an answer
 * (defaults, the answers for what does not exist) live once, in admin.ts.
 */
import type { AgentPage, AgentsQuery } from '../agents/agent-pages.ts'
import type { HealingView } from '../healing/healing-policy.ts'
import type { TaskExtras, TasksQuery } from '../tasks/rules.ts'
import type { AgentView, TaskFacts } from './views.ts'

/** A task to insert, every default filled in (admin.ts). */
export interface NewTask {
  input: unknown
  /** Only this agent may run it; null: any agent. */
  pinned: string | null
  timeout_ms: number
  extras: TaskExtras
}

export type CancelOutcome = { ok: true; task: TaskFacts } | { ok: false; error: 'task_not_found' | 'task_finished' }

export interface AdminStore {
  /**
   * The agent's view (views.ts's agentView); null: never seen. One hub answers at once (no
   * promise), so that an admin GET is answered in the turn it arrived in (api/dispatch.ts).
   */
  agent(agentId: string): AgentView | null | Promise<AgentView | null>
  /** Agents by agent id as AgentsQuery and `labels` (all of them) select; one page when `query.limit` is set. */
  agents(query: AgentsQuery, labels: readonly string[]): Promise<AgentPage<AgentView>>
  /**
   * Drains the agent, or resumes it (which lifts a quarantine too); carried out by the hub holding
   * its socket. False: no such agent.
   */
  setDrained(agentId: string, drained: boolean): Promise<boolean>
  /**
   * Inserts the task (503 queue_full past AGENTCOM_MAX_QUEUED_TASKS); resolves once it is saved,
   * with the task as inserted (it may be dispatched before the answer goes out).
   */
  insertTask(task: NewTask): Promise<TaskFacts>
  /**
   * One task pinned to each agent connected, undrained, not quarantined and carrying every label
   * of `task.extras.labels`, at this moment: all or none (the queue cap counts them all).
   */
  insertTaskForAll(task: Omit<NewTask, 'pinned'>): Promise<TaskFacts[]>
  task(taskId: string): Promise<TaskFacts | null>
  /** Newest first (tasks/rules.ts, TasksQuery). */
  tasks(query: TasksQuery): Promise<{ tasks: TaskFacts[]; next_cursor: string | null }>
  /** Cancels a task not yet finished (the agent running it is told); resolves once saved. */
  cancelTask(taskId: string): Promise<CancelOutcome>
  /** Healing's view (its policy, pause and actions), and its pause switch, the same from every hub. */
  healing(): Promise<HealingView>
  pauseHealing(): Promise<HealingView>
  resumeHealing(): Promise<HealingView>
  /**
   * Runs an answer that waits for the store: a cluster bounds it by REQUEST_DEADLINE_MS and turns
   * a lost connection into StorageUnavailable (503). Unset: run as it is (one hub's memory).
   */
  bounded?<T>(work: () => Promise<T>): Promise<T>
}
