/**
 * The cluster's RolloutStore (hub/rollouts/rollout-store.ts) over the rows of rollout-rows.ts.
 * A running rollout has an owner hub with a lease on database time: the owner steps it, renewing
 * the lease as it takes its rollouts on each sweep tick; once the lease has run out another hub
 * takes it over and carries it on from the rows. Each step is one transaction under the
 * rollout's row lock and only while this hub holds its lease; the restart it commands is a row
 * in the same transaction (with a notification to the hub holding the agent), so the restart_id
 * given to an agent is written with the restart itself, and a restart for an agent on this hub
 * is handed back to be delivered once the step has committed.
 */
import { inTransaction, type Queryable, type Sql } from './connect.ts'
import { ALL_HUBS, type PgBus } from './notify-bus.ts'
import { commandRestartIn } from './restarts.ts'
import {
  claimRollouts, defaultRolloutAgents, finishRollout, getRollout, insertRollout, knownAgents, markWaiting, rolloutAgents,
  setAgentError, setAgentRestart, touchRollout, type RolloutAgentRow, type RolloutRow,
} from './rollout-rows.ts'
import {
  isPendingState, type CommandedRestart, type NewRollout, type RolloutAgentRecord, type RolloutRecord, type RolloutStep, type RolloutStore,
} from '../rollouts/rollout-store.ts'
import type { RestartState } from '../agents/restart.ts'

/** The bus message that tells every hub a rollout moved (its owner steps it; others' views change). */
export const ROLLOUT_NUDGE = 'rollout'

export interface PgRolloutStoreDeps {
  sql: Sql
  bus: PgBus
  /** This hub's own lease: it steps nothing while that may have run out. */
  lease: { readonly valid: boolean }
  hubId: string
  /** How long a rollout's owner holds it without a renewal. */
  leaseMs: number
}

export class PgRolloutStore implements RolloutStore {
  constructor(private readonly d: PgRolloutStoreDeps) {}

  async insert(r: NewRollout): Promise<void> {
    await inTransaction(this.d.sql, (tx) => insertRollout(tx, r, this.d.hubId, this.d.leaseMs))
  }

  async get(rolloutId: string): Promise<RolloutRecord | null> {
    const [rollout, agents] = await Promise.all([getRollout(this.d.sql, rolloutId), rolloutAgents(this.d.sql, rolloutId)])
    return rollout && record(rollout, agents)
  }

  defaultAgents(): Promise<string[]> {
    return defaultRolloutAgents(this.d.sql)
  }

  knownAgents(agentIds: string[]): Promise<Map<string, { supervised: boolean }>> {
    return knownAgents(this.d.sql, agentIds)
  }

  async take(): Promise<Array<{ rollout_id: string; taken_from: string | null }>> {
    if (!this.d.lease.valid) return []
    return claimRollouts(this.d.sql, this.d.hubId, this.d.leaseMs)
  }

  async step<T>(rolloutId: string, fn: (step: RolloutStep) => Promise<T>): Promise<{ result: T; deliver: string[] } | null> {
    if (!this.d.lease.valid) return null
    const toDeliver: string[] = []
    const stepped = await inTransaction(this.d.sql, async (tx) => {
      const [owner] = await tx<{ ok: boolean }[]>`SELECT (owner_hub_id = ${this.d.hubId} AND lease_until > now()) AS ok
        FROM rollouts WHERE rollout_id = ${rolloutId} AND state = 'running' FOR UPDATE`
      if (!owner?.ok) return null
      const rollout = record((await getRollout(tx, rolloutId))!, await rolloutAgents(tx, rolloutId))
      const step: RolloutStep = {
        rollout,
        agents: async () => (await rolloutAgents(tx, rolloutId)).map(agentRecord),
        commandRestart: (agentId, cmd) => this.commandRestart(tx, agentId, cmd, toDeliver),
        recordRestart: async (position, restartId) => {
          await setAgentRestart(tx, rolloutId, position, restartId)
        },
        markWaiting: (position) => markWaiting(tx, rolloutId, position),
        setAgentError: (position, error) => setAgentError(tx, rolloutId, position, error),
        finish: (state, error) => finishRollout(tx, rolloutId, state, error),
        touch: () => touchRollout(tx, rolloutId),
      }
      return { result: await fn(step), deliver: toDeliver }
    })
    return stepped
  }

  cancel(rolloutId: string): Promise<boolean> {
    return finishRollout(this.d.sql, rolloutId, 'cancelled', null)
  }

  /** Every hub hears it: the owner steps it on, the others' events streams show it. */
  async announce(rolloutId: string): Promise<void> {
    await this.d.bus.publish(ALL_HUBS, { kind: ROLLOUT_NUDGE, rollout_id: rolloutId })
  }

  /** The restart's row in the step's transaction; the hub holding the agent hears of it at commit. */
  private async commandRestart(tx: Queryable, agentId: string, cmd: Parameters<RolloutStep['commandRestart']>[1], toDeliver: string[]): Promise<CommandedRestart> {
    const result = await commandRestartIn(tx, agentId, cmd, async (inner, restart, holder) => {
      if (holder !== this.d.hubId) await this.d.bus.publish(holder, { kind: 'restart', agent_id: agentId, restart_id: restart.restart_id }, inner)
    })
    if (!result.ok) return result
    if (!result.already_pending && result.hub_id === this.d.hubId) toDeliver.push(result.restart.restart_id)
    return { ok: true, restart_id: result.restart.restart_id, pending: isPendingState(result.restart.state) }
  }
}

function agentRecord(a: RolloutAgentRow): RolloutAgentRecord {
  return {
    position: a.position, agent_id: a.agent_id, restart_id: a.restart_id,
    restart_state: a.restart_state as RestartState | null, restart_error: a.restart_error, error: a.error,
  }
}

function record(r: RolloutRow, agents: RolloutAgentRow[]): RolloutRecord {
  const { rollout_id, state, reason, mode, deadline_s, max_unavailable, error, created_at, updated_at } = r
  return { rollout_id, state, reason, mode, deadline_s, max_unavailable, error, created_at, updated_at, agents: agents.map(agentRecord) }
}
