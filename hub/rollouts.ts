/**
 * Rolling restarts: every agent in a rollout restarts exactly once, in order, with never more
 * than `max_unavailable` commanded and not yet back. One that does not come back fails the
 * rollout, and no further restart starts.
 */
import type { RestartMode } from '../shared/protocol.ts'
import type { Clock } from '../shared/time.ts'
import type { Logger } from '../shared/log.ts'
import { isPending, type AgentRecord, type Fleet, type Restart } from './fleet.ts'

export type RolloutState = 'running' | 'completed' | 'failed' | 'cancelled'

interface RolloutAgent {
  agent_id: string
  restart: Restart | null
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

export interface RolloutInput {
  reason: string
  agent_ids: string[]
  max_unavailable: number
  mode: RestartMode
  deadline_s: number | null
}

export class Rollouts {
  readonly rollouts = new Map<string, Rollout>()
  private byRestart = new Map<string, Rollout>()

  constructor(
    private readonly fleet: Fleet,
    /** `offlineWaitMs`: how long to wait for an agent that is offline at its turn before failing. */
    private readonly opts: { clock: Clock; log: Logger; newId: () => string; offlineWaitMs: number },
  ) {}

  /** Every connected agent that runs under pm2, by agent id. */
  defaultAgents(): string[] {
    return [...this.fleet.agents.values()]
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
    return rollout
  }

  cancel(rollout: Rollout): void {
    if (rollout.state !== 'running') return
    this.finish(rollout, 'cancelled', null)
  }

  /** An agent became free (it may have reconnected): running rollouts may go on. */
  agentAvailable(): void {
    for (const rollout of this.rollouts.values()) if (rollout.state === 'running' && rollout.offlineTimer) this.step(rollout)
  }

  /** Called by the fleet on every restart state change. */
  restartChanged(_rec: AgentRecord, restart: Restart): void {
    const rollout = this.byRestart.get(restart.restart_id)
    if (!rollout) return
    rollout.updated_at = this.opts.clock.now()
    if (restart.state === 'completed' || restart.state === 'failed') this.byRestart.delete(restart.restart_id)
    if (rollout.state !== 'running') return
    if (restart.state === 'failed') {
      return this.finish(rollout, 'failed', `agent ${_rec.agent_id} did not come back (${restart.error})`)
    }
    if (restart.state === 'completed') this.step(rollout)
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
    for (const rollout of this.rollouts.values()) this.clearOfflineTimer(rollout)
  }

  private finish(rollout: Rollout, state: RolloutState, error: string | null): void {
    this.clearOfflineTimer(rollout)
    rollout.state = state
    rollout.error = error
    rollout.updated_at = this.opts.clock.now()
    this.opts.log.info(`rollout ${state}`, { rollout_id: rollout.rollout_id, error })
  }
}

export function rolloutView(r: Rollout) {
  return {
    rollout_id: r.rollout_id, state: r.state, reason: r.reason, mode: r.mode, deadline_s: r.deadline_s,
    max_unavailable: r.max_unavailable, error: r.error,
    agents: r.agents.map((a) => ({
      agent_id: a.agent_id,
      state: a.error ? 'failed' : (a.restart?.state ?? 'waiting'),
      restart_id: a.restart?.restart_id ?? null,
      ...(a.error ? { error: a.error } : {}),
    })),
    created_at: r.created_at, updated_at: r.updated_at,
  }
}
