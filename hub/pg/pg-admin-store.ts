/**
 * The cluster's AdminStore (hub/api/admin-store.ts): agents from the cluster's rows, so every
 * hub answers alike (tasks: pg-task-admin.ts). A command for an agent (the drained flag) is a row
 * first and a bus message second, to the hub holding the agent's socket, which carries it out;
 * this hub carries out its own at once. A database that cannot be reached, or does not answer
 * within REQUEST_DEADLINE_MS, is a 503 (`bounded`).
 *
 * Built with the runtime (it is the hub's `store.admin`), it is attached to the hub's cluster
 * owners (healing, presence) once createHub has built them (`attach`).
 */
import type { AdminStore } from '../api/admin-store.ts'
import type { HealingView } from '../healing/healing-policy.ts'
import { storageBound } from '../cluster/deadline.ts'
import { inTransaction, type Sql } from './connect.ts'
import type { PgBus } from './notify-bus.ts'
import { agentRowView, getAgentView, listAgentViews, setDrained } from './agent-views.ts'
import { liftQuarantine } from './healing-rows.ts'

export interface PgAdminStoreDeps {
  sql: Sql
  bus: PgBus
  hubId: string
}

/** The hub's cluster owners the store hands its changes to, given once they exist. */
export interface PgAdminLocal {
  /** Healing's view and switch; `changed`: actions another write ended (a resume lifts a quarantine). */
  healing: { view(): Promise<HealingView>; pause(): Promise<HealingView>; resume(): Promise<HealingView>; changed(actionIds: string[]): void }
  /** Carry out a drain or resume here, at once, for an agent this hub holds (no round trip through the bus). */
  drained(agentId: string, drained: boolean): void
  /** An agent no hub holds changed in its row (a drain or resume while offline): for the events stream. */
  agentChanged?(agentId: string): void
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
