/**
 * The cluster's RestartStore (hub/agents/restart-store.ts) over the rows of restarts.ts. A
 * request is one transaction under the agent's row lock; a restart for an agent on another
 * hub is announced to that hub on the bus at commit (it delivers it: RestartEngine.deliver).
 */
import type { Sql } from './connect.ts'
import type { PgBus } from './notify-bus.ts'
import { commandRestart, getRestart, moveRestart, pendingRestart, type RestartRow } from './restarts.ts'
import type { CommandRestart, Restart, RestartState } from '../agents/restart.ts'
import type { RestartRequestOutcome, RestartStore } from '../agents/restart-store.ts'

/** The bus message that tells the hub holding an agent to deliver a restart recorded for it. */
export const RESTART_NUDGE = 'restart'

export interface PgRestartStoreDeps {
  sql: Sql
  bus: PgBus
  hubId: string
}

export class PgRestartStore implements RestartStore {
  constructor(private readonly d: PgRestartStoreDeps) {}

  async request(agentId: string, cmd: CommandRestart & { restart_id: string }): Promise<RestartRequestOutcome> {
    const { bus, hubId } = this.d
    const result = await commandRestart(this.d.sql, agentId, {
      restart_id: cmd.restart_id, reason: cmd.reason, mode: cmd.mode, deadline_s: cmd.deadline_s, rollout_id: cmd.rollout_id ?? null,
    }, async (tx, restart, holder) => {
      if (holder !== hubId) await bus.publish(holder, { kind: RESTART_NUDGE, agent_id: agentId, restart_id: restart.restart_id }, tx)
    })
    if (!result.ok) return result
    return { ok: true, restart: restartOf(result.restart), already_pending: result.already_pending, here: result.hub_id === hubId }
  }

  async pending(agentId: string): Promise<Restart | null> {
    const row = await pendingRestart(this.d.sql, agentId)
    return row && restartOf(row)
  }

  async get(restartId: string): Promise<(Restart & { agent_id: string }) | null> {
    const row = await getRestart(this.d.sql, restartId)
    return row && { ...restartOf(row), agent_id: row.agent_id }
  }

  move(agentId: string, restartId: string, state: RestartState, error: string | null): Promise<boolean> {
    return moveRestart(this.d.sql, this.d.hubId, agentId, restartId, state, error)
  }
}

/** The hub's Restart from its row (without the row's agent and hub). */
function restartOf(row: RestartRow): Restart {
  return {
    restart_id: row.restart_id, reason: row.reason, mode: row.mode, deadline_s: row.deadline_s, state: row.state,
    requested_at: row.requested_at, updated_at: row.updated_at, error: row.error,
    before_restart_count: row.before_restart_count, before_pid: row.before_pid, before_instance: row.before_instance,
    rollout_id: row.rollout_id,
  }
}
