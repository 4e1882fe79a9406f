/**
 * The cluster's AdminStore (hub/api/admin-store.ts): agents from the cluster's rows, so every
 * hub answers alike (tasks: pg-task-admin.ts). A drain or resume is the agent's row first and a
 * bus message second, to the hub holding the agent's socket, which carries it out; this hub
 * carries out its own at once. A resume's quarantine is lifted through the healing runtime's
 * store, as one hub's is. A database that cannot be reached, or does not answer within
 * REQUEST_DEADLINE_MS, is a 503 (`bounded`).
 *
 * Opened by createHub (HubStore.admin) over its healing runtime, once its cluster is attached.
 */
import type { AdminStore } from '../api/admin-store.ts'
import type { HealingView } from '../healing/healing-policy.ts'
import type { HealingRuntime } from '../healing/healing-runtime.ts'
import { storageBound } from '../cluster/deadline.ts'
import { inTransaction, type Sql } from './connect.ts'
import type { PgBus } from './notify-bus.ts'
import { agentRowView, getAgentView, listAgentViews, setDrained } from './agent-views.ts'

export interface PgAdminStoreDeps {
  sql: Sql
  bus: PgBus
  hubId: string
  /** Healing's view and switch, and the lift of a resumed agent's quarantine (the hub's healing runtime). */
  healing: Pick<HealingRuntime, 'view' | 'pause' | 'resume' | 'liftQuarantine'>
  /** Carry out a drain or resume here, at once, for an agent this hub holds (no round trip through the bus). */
  drainedHere(agentId: string, drained: boolean): void
  /** An agent no hub holds changed in its row (a drain or resume while offline): for the events stream. */
  agentChanged(agentId: string): void
}

export class PgAdminStore implements AdminStore {
  constructor(private readonly d: PgAdminStoreDeps) {}

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
    const held = await inTransaction(sql, async (tx) => {
      const row = await setDrained(tx, agentId, drained)
      if (row?.live && row.hub_id !== null && row.hub_id !== hubId) {
        await bus.publish(row.hub_id, { kind: drained ? 'drain' : 'resume', agent_id: agentId }, tx)
      }
      return row
    })
    if (!held) return false
    // A resume lifts a quarantine (setDrained cleared the row's flag): its actions too, in
    // healing's store. Answered once lifted; a failure is a 503, and the resume asked again lifts it.
    if (!drained) await this.d.healing.liftQuarantine(agentId)
    if (held.live && held.hub_id === hubId) this.d.drainedHere(agentId, drained)
    // Held nowhere: no hub's fleet will publish it, so this one does (one hub shows it too).
    else if (!held.live) this.d.agentChanged(agentId)
    return true
  }

  healing(): Promise<HealingView> {
    return this.d.healing.view()
  }

  pauseHealing(): Promise<HealingView> {
    return this.d.healing.pause()
  }

  resumeHealing(): Promise<HealingView> {
    return this.d.healing.resume()
  }
}
