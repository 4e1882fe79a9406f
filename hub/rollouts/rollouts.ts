/**
 * Rolling restarts: every agent in a rollout restarts exactly once, in order, with never more
 * than `max_unavailable` commanded and not yet back. One that does not come back fails the
 * rollout, and no further restart starts. The one owner of rollouts: it follows restarts and
 * agents through the change feed and publishes a `rollout` change for each of its own.
 */
import type { RestartMode } from '../../shared/protocol.ts'
import type { Clock } from '../../shared/time.ts'
import type { Logger } from '../../shared/log.ts'
import { isPending, type Fleet, type Restart } from '../agents/fleet.ts'
import type { ChangeFeed } from '../events/changes.ts'

export type RolloutState = 'running' | 'completed' | 'failed' | 'cancelled'

interface RolloutAgent {
  agent_id: string
  restart: Readonly<Restart> | null
  /** Set when the agent could not be commanded at its turn. */
  error: string | null
}

type Timer = ReturnType<typeof setTimeout>

export interface Rollout {
  rollout_id: string
  state: RolloutState
  reason: string
  mode: RestartMode
  deadline_s: number | null
  max_unavailable: number
  agents: RolloutAgent[]
  error: string | null
  created_at: number
  updated_at: number
  /** Armed while the next agent is offline at its turn. */
  offlineTimer: Timer | null
}

/** What a single hub saves of a rollout (hub/state/). */
export type SavedRollout = Omit<Rollout, 'offlineTimer'>

export interface RolloutInput {
  reason: string
  agent_ids: string[]
  max_unavailable: number
  mode: RestartMode
  deadline_s: number | null
}

export interface RolloutsOptions {
  clock: Clock
  log: Logger
  newId: () => string
  /** How long to wait for an agent that is offline at its turn before failing. */
  offlineWaitMs: number
  changes: ChangeFeed
}

/** Finished rollouts kept for GET; the oldest is forgotten past this. */
export const MAX_FINISHED_ROLLOUTS = 100

export class Rollouts {
  private readonly rollouts = new Map<string, Rollout>()
  private finished: string[] = []
  private byRestart = new Map<string, Rollout>()
  private readonly unsubscribe: () => void

  constructor(private readonly fleet: Fleet, private readonly opts: RolloutsOptions) {
    this.unsubscribe = opts.changes.on('agent', (change) => {
      if (fleet.isAvailable(change.agent_id)) this.agentAvailable()
      if (change.restart_id !== undefined) this.restartChanged(change.agent_id, change.restart_id)
    })
  }

  get(rolloutId: string): Readonly<Rollout> | undefined {
    return this.rollouts.get(rolloutId)
  }

  /** Every rollout kept (running ones and the last MAX_FINISHED_ROLLOUTS finished), oldest first. */
  list(): readonly Readonly<Rollout>[] {
    return [...this.rollouts.values()]
  }

  /**
   * One hub, at start: the rollouts a previous hub saved (hub/state/), after the fleet's agents.
   * An agent's restart is the fleet's own record when it is the same restart, so a running
   * rollout follows it and goes on as agents come back, as a cluster's does after a hub change.
   */
  restore(saved: readonly SavedRollout[]): void {
    for (const s of saved) {
      if (this.rollouts.has(s.rollout_id)) continue
      const agents = s.agents.map((a) => {
        const own = this.fleet.get(a.agent_id)?.restart
        if (own && own.restart_id === a.restart?.restart_id) return { ...a, restart: own }
        // A pending restart the fleet no longer has can never finish: it failed with the hub.
        return { ...a, restart: isPending(a.restart) ? { ...a.restart, state: 'failed' as const, error: 'timeout' } : a.restart }
      })
      const rollout: Rollout = { ...s, agents, offlineTimer: null }
      this.rollouts.set(rollout.rollout_id, rollout)
      if (rollout.state !== 'running') this.finished.push(rollout.rollout_id)
      for (const a of agents) if (isPending(a.restart)) this.byRestart.set(a.restart.restart_id, rollout)
    }
    while (this.finished.length > MAX_FINISHED_ROLLOUTS) this.forget(this.finished.shift()!)
    for (const rollout of this.rollouts.values()) {
      const failed = rollout.state === 'running' && rollout.agents.find((a) => a.restart?.state === 'failed')
      if (failed) this.finish(rollout, 'failed', `agent ${failed.agent_id} did not come back (${failed.restart!.error})`)
      else this.step(rollout)
      this.publish(rollout)
    }
  }

  /** Every connected agent that runs under pm2, by agent id. */
  defaultAgents(): string[] {
    return this.fleet.list()
      .filter((rec) => rec.peer && rec.supervised)
      .map((rec) => rec.agent_id)
      .sort()
  }

  create(input: RolloutInput): Rollout {
    const now = this.opts.clock.now()
    const rollout: Rollout = {
      rollout_id: this.opts.newId(), state: 'running', reason: input.reason, mode: input.mode,
      deadline_s: input.deadline_s, max_unavailable: input.max_unavailable,
      agents: input.agent_ids.map((agent_id) => ({ agent_id, restart: null, error: null })),
      error: null, created_at: now, updated_at: now, offlineTimer: null,
    }
    this.rollouts.set(rollout.rollout_id, rollout)
    this.opts.log.info('rollout started', { rollout_id: rollout.rollout_id, agents: input.agent_ids.length })
    this.step(rollout)
    this.publish(rollout)
    return rollout
  }

  /** Stops a running rollout: no further restart starts. Returns it, or undefined if unknown. */
  cancel(rolloutId: string): Readonly<Rollout> | undefined {
    const rollout = this.rollouts.get(rolloutId)
    if (rollout?.state === 'running') this.finish(rollout, 'cancelled', null)
    return rollout
  }

  private publish(rollout: Rollout): void {
    this.opts.changes.publish({ type: 'rollout', rollout_id: rollout.rollout_id })
  }

  /** An agent became free (it may have reconnected): running rollouts may go on. */
  private agentAvailable(): void {
    for (const rollout of this.rollouts.values()) if (rollout.state === 'running' && rollout.offlineTimer) this.step(rollout)
  }

  /** An agent's restart changed state. */
  private restartChanged(agentId: string, restartId: string): void {
    const rollout = this.byRestart.get(restartId)
    const restart = this.fleet.get(agentId)?.restart
    if (!rollout || restart?.restart_id !== restartId) return
    rollout.updated_at = this.opts.clock.now()
    if (restart.state === 'completed' || restart.state === 'failed') this.byRestart.delete(restart.restart_id)
    if (rollout.state === 'running' && restart.state === 'failed') {
      this.finish(rollout, 'failed', `agent ${agentId} did not come back (${restart.error})`)
    } else if (rollout.state === 'running' && restart.state === 'completed') {
      this.step(rollout)
    }
    this.publish(rollout)
  }

  private step(rollout: Rollout): void {
    if (rollout.state !== 'running') return
    let unavailable = rollout.agents.filter((a) => isPending(a.restart)).length
    for (const agent of rollout.agents) {
      if (unavailable >= rollout.max_unavailable) break
      if (agent.restart || agent.error) continue
      const result = this.fleet.commandRestart(agent.agent_id, {
        reason: rollout.reason, mode: rollout.mode, deadline_s: rollout.deadline_s, rollout_id: rollout.rollout_id,
      })
      if (!result.ok && result.error === 'agent_not_connected') {
        // Offline at its turn (a blip, or its own restart): wait for it, in order, up to the
        // restart timeout. A disconnect of its own never counts as its restart.
        rollout.offlineTimer ??= setTimeout(() => {
          rollout.offlineTimer = null
          if (rollout.state !== 'running' || agent.restart) return
          agent.error = 'agent_not_connected'
          this.finish(rollout, 'failed', `agent ${agent.agent_id} was not connected at its turn`)
        }, this.opts.offlineWaitMs)
        break
      }
      if (!result.ok) {
        agent.error = result.error
        return this.finish(rollout, 'failed', `agent ${agent.agent_id}: ${result.error}`)
      }
      this.clearOfflineTimer(rollout)
      agent.restart = result.restart
      this.publish(rollout)
      if (isPending(result.restart)) {
        this.byRestart.set(result.restart.restart_id, rollout)
        unavailable++
      }
    }
    if (rollout.agents.every((a) => a.restart?.state === 'completed')) this.finish(rollout, 'completed', null)
  }

  private clearOfflineTimer(rollout: Rollout): void {
    if (rollout.offlineTimer) clearTimeout(rollout.offlineTimer)
    rollout.offlineTimer = null
  }

  close(): void {
    this.unsubscribe()
    for (const rollout of this.rollouts.values()) this.clearOfflineTimer(rollout)
  }

  private finish(rollout: Rollout, state: RolloutState, error: string | null): void {
    this.clearOfflineTimer(rollout)
    rollout.state = state
    rollout.error = error
    rollout.updated_at = this.opts.clock.now()
    this.opts.log.info(`rollout ${state}`, { rollout_id: rollout.rollout_id, error })
    this.publish(rollout)
    this.finished.push(rollout.rollout_id)
    if (this.finished.length > MAX_FINISHED_ROLLOUTS) this.forget(this.finished.shift()!)
  }

  private forget(rolloutId: string): void {
    this.rollouts.delete(rolloutId)
    for (const [restartId, rollout] of this.byRestart) if (rollout.rollout_id === rolloutId) this.byRestart.delete(restartId)
  }
}
