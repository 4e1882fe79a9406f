/**
 * Rollouts in cluster mode. A rollout is a row with an owner hub and a lease (database time);
 * the owner drives it, one step at a time, by commanding restarts through the same rows and
 * notifications as the restart route, so an agent on another hub is restarted by that hub.
 * The owner renews its lease on each tick; when it stops (dead, cut off), another hub takes
 * the rollout over once the lease has run out and carries it on from the rows.
 *
 * Each step runs in one transaction under the rollout's row lock and only while this hub
 * holds its lease: the restart_id given to an agent is written in the same transaction as the
 * restart itself, so a step done twice (by a new owner after a crash, or a nudge racing a
 * tick) finds it and commands nothing twice.
 */
import type { Logger } from '../../shared/log.ts'
import { inTransaction, type Queryable, type Sql } from '../pg/connect.ts'
import { ALL_HUBS, type PgBus } from '../pg/bus.ts'
import { commandRestartIn } from '../pg/restarts.ts'
import {
  claimRollouts, defaultRolloutAgents, finishRollout, getRollout, insertRollout, knownAgents, markWaiting, rolloutAgents,
  setAgentError, setAgentRestart, touchRollout, type RolloutAgentRow, type RolloutRow,
} from '../pg/rollouts.ts'
import type { RolloutCreated, RolloutRequest, RolloutView } from '../api/admin.ts'
import type { HubLease } from './lease.ts'

/** The bus message that tells every hub a rollout moved (its owner steps it; others' views change). */
export const ROLLOUT_NUDGE = 'rollout'

const PENDING = new Set(['commanded', 'deferred', 'restarting'])

export interface ClusterRolloutsDeps {
  sql: Sql
  bus: PgBus
  lease: HubLease
  hubId: string
  leaseMs: number
  log: Logger
  newId: () => string
  /** How long an agent offline at its turn is waited for before the rollout fails. */
  offlineWaitMs: number
  /** Delivers a restart this hub recorded for an agent whose socket it holds. */
  deliverRestart(restartId: string): Promise<void>
  /** The rollout's rows changed here (for the events stream). */
  changed(rolloutId: string): void
}

export class ClusterRollouts {
  /** One step at a time per rollout on this hub; a request meanwhile runs once after it. */
  private readonly stepping = new Map<string, { again: boolean; done: Promise<void> }>()

  constructor(private readonly d: ClusterRolloutsDeps) {}

  /** POST /api/admin/rollouts: the rollout's row, owned by this hub, and its first step. */
  async create(input: RolloutRequest): Promise<RolloutCreated> {
    const { sql } = this.d
    const ids = input.agent_ids ?? await defaultRolloutAgents(sql)
    const known = await knownAgents(sql, ids)
    for (const id of ids) {
      const agent = known.get(id)
      if (!agent) return { ok: false, error: 'agent_not_found', agent_id: id }
      if (!agent.supervised) return { ok: false, error: 'not_supervised', agent_id: id }
    }
    const rolloutId = this.d.newId()
    await inTransaction(sql, (tx) => insertRollout(tx, { ...input, rollout_id: rolloutId, agent_ids: ids }, this.d.hubId, this.d.leaseMs))
    this.d.log.info('rollout started', { rollout_id: rolloutId, agents: ids.length })
    await this.step(rolloutId)
    await this.announce(rolloutId)
    return { ok: true, rollout: (await this.view(rolloutId))! }
  }

  /** The Rollout view (views.ts's rolloutView, field for field) from the rows; null if unknown. */
  async view(rolloutId: string): Promise<RolloutView | null> {
    const [rollout, agents] = await Promise.all([getRollout(this.d.sql, rolloutId), rolloutAgents(this.d.sql, rolloutId)])
    if (!rollout) return null
    return {
      rollout_id: rollout.rollout_id, state: rollout.state, reason: rollout.reason, mode: rollout.mode,
      deadline_s: rollout.deadline_s, max_unavailable: rollout.max_unavailable, error: rollout.error,
      agents: agents.map((a) => ({
        agent_id: a.agent_id,
        state: (a.error ? 'failed' : (a.restart_state ?? 'waiting')) as RolloutView['agents'][number]['state'],
        restart_id: a.restart_id,
        ...(a.error ? { error: a.error } : {}),
      })),
      created_at: rollout.created_at, updated_at: rollout.updated_at,
    }
  }

  /** From any hub: no further restart starts (the owner's next step finds it cancelled). */
  async cancel(rolloutId: string): Promise<RolloutView | null> {
    if (await finishRollout(this.d.sql, rolloutId, 'cancelled', null)) {
      this.d.log.info('rollout cancelled', { rollout_id: rolloutId })
      await this.announce(rolloutId)
    }
    return this.view(rolloutId)
  }

  /** Drives the rollouts this hub owns or takes over; run on every sweep tick. */
  async tick(): Promise<void> {
    if (!this.d.lease.valid) return
    const owned = await claimRollouts(this.d.sql, this.d.hubId, this.d.leaseMs)
    for (const { rollout_id, taken_from } of owned) {
      if (taken_from !== null) this.d.log.warn('rollout taken over', { rollout_id, from_hub: taken_from })
    }
    await Promise.all(owned.map(({ rollout_id }) => this.step(rollout_id)))
  }

  /** Steps the rollout now if this hub owns it (after a create, or a nudge that one of its restarts moved). */
  step(rolloutId: string): Promise<void> {
    const running = this.stepping.get(rolloutId)
    if (running) {
      running.again = true
      return running.done
    }
    const entry = { again: false, done: Promise.resolve() }
    entry.done = (async () => {
      try {
        do {
          entry.again = false
          await this.stepOnce(rolloutId).catch((err) => this.d.log.warn('rollout step failed', { rollout_id: rolloutId, error: String(err) }))
        } while (entry.again)
      } finally {
        this.stepping.delete(rolloutId)
      }
    })()
    this.stepping.set(rolloutId, entry)
    return entry.done
  }

  private async stepOnce(rolloutId: string): Promise<void> {
    if (!this.d.lease.valid) return
    const toDeliver: string[] = []
    const moved = await inTransaction(this.d.sql, async (tx) => {
      const [owner] = await tx<{ ok: boolean }[]>`SELECT (owner_hub_id = ${this.d.hubId} AND lease_until > now()) AS ok
        FROM rollouts WHERE rollout_id = ${rolloutId} AND state = 'running' FOR UPDATE`
      if (!owner?.ok) return false
      const rollout = (await getRollout(tx, rolloutId))!
      const agents = await rolloutAgents(tx, rolloutId)
      const failed = agents.find((a) => a.restart_state === 'failed')
      if (failed) {
        return finishRollout(tx, rolloutId, 'failed', `agent ${failed.agent_id} did not come back (${failed.restart_error})`)
      }
      let unavailable = agents.filter((a) => a.restart_state !== null && PENDING.has(a.restart_state)).length
      let changed = false
      for (const agent of agents) {
        if (unavailable >= rollout.max_unavailable) break
        if (agent.restart_id !== null || agent.error !== null) continue
        const outcome = await this.commandOne(tx, rollout, agent)
        if (outcome === 'waiting') break
        if (outcome === 'failed') return true
        changed = true
        if (outcome.pending) unavailable++
        if (outcome.deliverHere) toDeliver.push(outcome.restart_id)
      }
      const now = await rolloutAgents(tx, rolloutId)
      if (now.every((a) => a.restart_state === 'completed')) return finishRollout(tx, rolloutId, 'completed', null)
      if (changed) await touchRollout(tx, rolloutId)
      return changed
    })
    for (const restartId of toDeliver) await this.d.deliverRestart(restartId)
    if (moved) await this.announce(rolloutId)
  }

  /** Commands the agent's restart in the step's transaction; the restart_id is recorded with it. */
  private async commandOne(
    tx: Queryable, rollout: RolloutRow, agent: RolloutAgentRow,
  ): Promise<'waiting' | 'failed' | { restart_id: string; pending: boolean; deliverHere: boolean }> {
    const result = await commandRestartIn(tx, agent.agent_id, {
      restart_id: this.d.newId(), reason: rollout.reason, mode: rollout.mode, deadline_s: rollout.deadline_s,
      rollout_id: rollout.rollout_id,
    }, async (inner, restart, holder) => {
      if (holder !== this.d.hubId) await this.d.bus.publish(holder, { kind: 'restart', agent_id: agent.agent_id, restart_id: restart.restart_id }, inner)
    })
    if (!result.ok && result.error === 'agent_not_connected') {
      // Offline at its turn (a blip, or moving between hubs): waited for, in order, up to the
      // restart timeout, counted in the row so a new owner waits no longer.
      const waited = await markWaiting(tx, rollout.rollout_id, agent.position)
      if (waited < this.d.offlineWaitMs) return 'waiting'
      await setAgentError(tx, rollout.rollout_id, agent.position, 'agent_not_connected')
      await finishRollout(tx, rollout.rollout_id, 'failed', `agent ${agent.agent_id} was not connected at its turn`)
      return 'failed'
    }
    if (!result.ok) {
      await setAgentError(tx, rollout.rollout_id, agent.position, result.error)
      await finishRollout(tx, rollout.rollout_id, 'failed', `agent ${agent.agent_id}: ${result.error}`)
      return 'failed'
    }
    await setAgentRestart(tx, rollout.rollout_id, agent.position, result.restart.restart_id)
    this.d.log.info('rollout restart commanded', { rollout_id: rollout.rollout_id, agent_id: agent.agent_id, restart_id: result.restart.restart_id })
    return {
      restart_id: result.restart.restart_id,
      pending: PENDING.has(result.restart.state),
      deliverHere: !result.already_pending && result.hub_id === this.d.hubId,
    }
  }

  /** Every hub hears that the rollout moved (its view changed; the owner steps on). */
  async announce(rolloutId: string): Promise<void> {
    this.d.changed(rolloutId)
    await this.d.bus.publish(ALL_HUBS, { kind: ROLLOUT_NUDGE, rollout_id: rolloutId }).catch((err) => {
      this.d.log.warn('could not announce a rollout change', { rollout_id: rolloutId, error: String(err) })
    })
  }
}
