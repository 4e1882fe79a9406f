/**
 * What the admin answers (admin.ts) ask of wherever the fleet's agents are kept, and healing's
 * switch: named operations, each resolved once its change is durable (tasks are the task
 * owner's, hub/tasks/task-admin.ts). Two implementations: one hub's
 * memory, saved to its data dir (memory-admin-store.ts), and the cluster's rows
 * (hub/pg/pg-admin-store.ts), where a command for an agent on another hub is a row first and a
 * bus message to that hub second. Views are made by views.ts alone; the rules of an answer
 * (defaults, the answers for what does not exist) live once, in admin.ts.
 */
import type { AgentPage, AgentsQuery } from '../agents/agent-pages.ts'
import type { HealingView } from '../healing/healing-policy.ts'
import type { HealingRuntime } from '../healing/healing-runtime.ts'
import type { ChangeFeed } from '../events/changes.ts'
import type { AgentView } from './views.ts'

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

/** What a hub opens a store of its own (HubStore.admin, a cluster's rows) with: its change feed and its healing runtime. */
export interface AdminStoreHub {
  changes: ChangeFeed
  healing: HealingRuntime
}

export type OpenAdminStore = (hub: AdminStoreHub) => AdminStore
