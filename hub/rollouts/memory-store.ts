/**
 * One hub's RolloutStore: rollouts in memory, saved to the data dir through the fleet state
 * saver (hub/store/fleet-saver.ts), restarts commanded through the Fleet. Each agent of a rollout
 * holds the Fleet's own Restart record, so its state is the restart's as it moves. A step or a
 * cancel resolves once saved; at most MAX_FINISHED_ROLLOUTS finished rollouts are kept.
 */
import type { Clock } from '../../shared/time.ts'
import { isPending, type Restart } from '../agents/restart.ts'
import type { Fleet } from '../agents/fleet.ts'
import { StorageUnavailable } from '../api/admin.ts'
import type {
  CommandedRestart, NewRollout, RolloutAgentRecord, RolloutRecord, RolloutState, RolloutStep, RolloutStore,
} from './rollout-store.ts'

/** Finished rollouts kept for GET; the oldest is forgotten past this. */
export const MAX_FINISHED_ROLLOUTS = 100

/** A rollout as one hub keeps it, and saves it (hub/store/fleet-state.ts). */
export interface SavedRollout {
  rollout_id: string
  state: RolloutState
  reason: string
  mode: RolloutRecord['mode']
  deadline_s: number | null
  max_unavailable: number
  agents: Array<{ agent_id: string; restart: Readonly<Restart> | null; error: string | null }>
  error: string | null
  created_at: number
  updated_at: number
}

export interface MemoryRolloutStoreOptions {
  fleet: Pick<Fleet, 'get' | 'list' | 'commandRestart'>
  clock: Clock
  /** The rollout's saved form is stale (it changed, or was forgotten). */
  changed(rolloutId: string): void
  /** Resolves once every change so far is saved; rejects when that save failed. */
  durable(): Promise<void>
}

export class MemoryRolloutStore implements RolloutStore {
  private readonly rollouts = new Map<string, SavedRollout>()
  private finished: string[] = []
  /** The rollout of each pending restart one of its agents holds. */
  private readonly byRestart = new Map<string, string>()
  /** When the agent at `${rollout_id}:${position}` was first found offline at its turn. */
  private readonly waitingSince = new Map<string, number>()
  private readonly locks = new Map<string, Promise<void>>()

  constructor(private readonly o: MemoryRolloutStoreOptions) {}

  /** The rollout as the engine reads it, now (healing and the events stream read it so too). */
  peek(rolloutId: string): RolloutRecord | undefined {
    const r = this.rollouts.get(rolloutId)
    return r && record(r)
  }

  /** What is saved of the rollout; undefined once forgotten. */
  saved(rolloutId: string): Readonly<SavedRollout> | undefined {
    return this.rollouts.get(rolloutId)
  }

  /** The rollout one of whose agents holds this restart while it is pending. */
  rolloutOfRestart(restartId: string): string | undefined {
    return this.byRestart.get(restartId)
  }

  /** A restart moved: once over, no rollout follows it any more. */
  restartMoved(restartId: string): void {
    const rolloutId = this.byRestart.get(restartId)
    const agent = rolloutId && this.rollouts.get(rolloutId)?.agents.find((a) => a.restart?.restart_id === restartId)
    if (!agent || !isPending(agent.restart)) this.byRestart.delete(restartId)
  }

  /**
   * At start: the rollouts a previous hub saved, after the fleet's agents. An agent's restart is
   * the fleet's own record when it is the same restart, so a running rollout follows it and goes
   * on as agents come back (the engine's next step), as a cluster's does after a hub change.
   */
  restore(saved: readonly SavedRollout[]): void {
    for (const s of saved) {
      if (this.rollouts.has(s.rollout_id)) continue
      const agents = s.agents.map((a) => {
        const own = this.o.fleet.get(a.agent_id)?.restart
        if (own && own.restart_id === a.restart?.restart_id) return { ...a, restart: own }
        // A pending restart the fleet no longer has can never finish: it failed with the hub.
        return { ...a, restart: isPending(a.restart) ? { ...a.restart, state: 'failed' as const, error: 'timeout' } : a.restart }
      })
      this.rollouts.set(s.rollout_id, { ...s, agents })
      if (s.state !== 'running') this.finished.push(s.rollout_id)
      for (const a of agents) if (isPending(a.restart)) this.byRestart.set(a.restart.restart_id, s.rollout_id)
    }
    while (this.finished.length > MAX_FINISHED_ROLLOUTS) this.forget(this.finished.shift()!)
  }

  /** Every rollout kept, oldest first. */
  ids(): string[] {
    return [...this.rollouts.keys()]
  }

  async insert(r: NewRollout): Promise<void> {
    const now = this.o.clock.now()
    this.rollouts.set(r.rollout_id, {
      rollout_id: r.rollout_id, state: 'running', reason: r.reason, mode: r.mode, deadline_s: r.deadline_s,
      max_unavailable: r.max_unavailable, agents: r.agent_ids.map((agent_id) => ({ agent_id, restart: null, error: null })),
      error: null, created_at: now, updated_at: now,
    })
    this.o.changed(r.rollout_id)
    try {
      await this.o.durable()
    } catch (err) {
      // Not saved: not created either (the answer is 503), and its removal is saved in turn.
      this.rollouts.delete(r.rollout_id)
      this.o.changed(r.rollout_id)
      throw new StorageUnavailable(`the rollout could not be saved: ${String(err)}`)
    }
  }

  async get(rolloutId: string): Promise<RolloutRecord | null> {
    return this.peek(rolloutId) ?? null
  }

  async defaultAgents(): Promise<string[]> {
    return this.o.fleet.list().filter((rec) => rec.peer && rec.supervised).map((rec) => rec.agent_id).sort()
  }

  async knownAgents(agentIds: string[]): Promise<Map<string, { supervised: boolean }>> {
    const known = new Map<string, { supervised: boolean }>()
    for (const id of agentIds) {
      const rec = this.o.fleet.get(id)
      if (rec) known.set(id, { supervised: rec.supervised })
    }
    return known
  }

  async take(): Promise<Array<{ rollout_id: string; taken_from: string | null }>> {
    return [...this.rollouts.values()].filter((r) => r.state === 'running').map((r) => ({ rollout_id: r.rollout_id, taken_from: null }))
  }

  async step<T>(rolloutId: string, fn: (step: RolloutStep) => Promise<T>): Promise<{ result: T } | null> {
    let changed = false
    const stepped = await this.locked(rolloutId, async () => {
      const r = this.rollouts.get(rolloutId)
      if (r?.state !== 'running') return null
      // The Fleet sends a restart as it records it, before the save (as its own restarts are).
      const commanded = new Map<string, Restart>()
      const change = () => {
        changed = true
        this.o.changed(rolloutId)
      }
      const step: RolloutStep = {
        rollout: record(r),
        agents: async () => record(r).agents,
        commandRestart: async (agentId, cmd): Promise<CommandedRestart> => {
          const result = this.o.fleet.commandRestart(agentId, cmd)
          if (!result.ok) return result
          commanded.set(result.restart.restart_id, result.restart)
          return { ok: true, restart_id: result.restart.restart_id, pending: isPending(result.restart) }
        },
        recordRestart: async (position, restartId) => {
          const agent = r.agents[position]
          agent.restart = commanded.get(restartId) ?? null
          this.waitingSince.delete(`${rolloutId}:${position}`)
          if (isPending(agent.restart)) this.byRestart.set(restartId, rolloutId)
          change()
        },
        markWaiting: async (position) => {
          const key = `${rolloutId}:${position}`
          const now = this.o.clock.now()
          const since = this.waitingSince.get(key) ?? now
          this.waitingSince.set(key, since)
          return now - since
        },
        setAgentError: async (position, error) => {
          r.agents[position].error = error
          change()
        },
        finish: async (state, error) => {
          const done = this.finish(r, state, error)
          if (done) change()
          return done
        },
        touch: async () => {
          r.updated_at = this.o.clock.now()
          change()
        },
      }
      return { result: await fn(step) }
    })
    if (changed) await this.durable()
    return stepped
  }

  async cancel(rolloutId: string): Promise<boolean> {
    const done = await this.locked(rolloutId, async () => {
      const r = this.rollouts.get(rolloutId)
      return r !== undefined && this.finish(r, 'cancelled', null)
    })
    if (done) {
      this.o.changed(rolloutId)
      await this.durable()
    }
    return done
  }

  /** A change not saved stays in memory, saved once the disk is back; the answer is 503 meanwhile. */
  private async durable(): Promise<void> {
    await this.o.durable().catch((err) => {
      throw new StorageUnavailable(`the rollout could not be saved: ${String(err)}`)
    })
  }

  private finish(r: SavedRollout, state: Exclude<RolloutState, 'running'>, error: string | null): boolean {
    if (r.state !== 'running') return false
    r.state = state
    r.error = error
    r.updated_at = this.o.clock.now()
    r.agents.forEach((_, position) => this.waitingSince.delete(`${r.rollout_id}:${position}`))
    this.finished.push(r.rollout_id)
    if (this.finished.length > MAX_FINISHED_ROLLOUTS) this.forget(this.finished.shift()!)
    return true
  }

  private forget(rolloutId: string): void {
    const r = this.rollouts.get(rolloutId)
    this.rollouts.delete(rolloutId)
    for (const a of r?.agents ?? []) if (a.restart) this.byRestart.delete(a.restart.restart_id)
    this.o.changed(rolloutId)
  }

  /** Runs `fn` once every earlier operation on the rollout has finished: one at a time. */
  private async locked<T>(rolloutId: string, fn: () => Promise<T>): Promise<T> {
    const before = this.locks.get(rolloutId)
    let release!: () => void
    const mine = new Promise<void>((resolve) => (release = resolve))
    const chain = (before ?? Promise.resolve()).then(() => mine)
    this.locks.set(rolloutId, chain)
    if (before) await before
    try {
      return await fn()
    } finally {
      release()
      if (this.locks.get(rolloutId) === chain) this.locks.delete(rolloutId)
    }
  }
}

/** The engine's view of a kept rollout: each agent's state is its restart's, as it is now. */
function record(r: SavedRollout): RolloutRecord {
  const agents: RolloutAgentRecord[] = r.agents.map((a, position) => ({
    position, agent_id: a.agent_id, restart_id: a.restart?.restart_id ?? null,
    restart_state: a.restart?.state ?? null, restart_error: a.restart?.error ?? null, error: a.error,
  }))
  const { rollout_id, state, reason, mode, deadline_s, max_unavailable, error, created_at, updated_at } = r
  return { rollout_id, state, reason, mode, deadline_s, max_unavailable, error, created_at, updated_at, agents }
}
