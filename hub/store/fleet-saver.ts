/**
 * A single hub's saves of its fleet state (fleet-state.ts): restores what a previous hub saved,
 * then saves again after every change that matters (a restart's state, a drain, a quarantine, a
 * rollout, a healing action or pause) through a Persister: coalesced, never marked saved when
 * the write failed, retried on its own, and its health shown on GET /health. Agents' stats,
 * pings and task traffic change nothing saved and cost one map lookup each.
 */
import type { Clock } from '../../shared/time.ts'
import type { Logger } from '../../shared/log.ts'
import type { ChangeFeed } from '../changes.ts'
import type { AgentRecord, Fleet } from '../fleet.ts'
import type { Rollouts } from '../rollouts.ts'
import type { Healing } from '../healing.ts'
import { Persister, type StorageHealth } from '../persister.ts'
import type { FleetState, FleetStateStore } from './fleet-state.ts'

export interface FleetSaverOptions {
  fleet: Fleet
  rollouts: Rollouts
  healing: Healing
  changes: ChangeFeed
  store: FleetStateStore
  clock: Clock
  log: Logger
  /** While saves fail, they are tried again this often. */
  retryMs: number
}

/** Which of an agent's saved facts it has: a restart, drained, quarantined. 0: nothing saved. */
function savedFacts(rec: AgentRecord | undefined): number {
  if (!rec) return 0
  return (rec.restart ? 1 : 0) | (rec.drained ? 2 : 0) | (rec.quarantined ? 4 : 0)
}

export class FleetSaver {
  private readonly persister: Persister<FleetState>
  /** savedFacts of every agent with any, as of its last change: a change that alters it saves. */
  private readonly facts = new Map<string, number>()
  private readonly unsubscribe: () => void

  constructor(private readonly o: FleetSaverOptions) {
    this.persister = new Persister(o.store, () => this.snapshot(), { log: o.log, now: () => o.clock.now(), retryMs: o.retryMs, what: 'fleet state' })
    this.unsubscribe = o.changes.subscribe((change) => {
      if (change.type === 'task' || (change.type === 'agent' && change.stats)) return
      // Evaluated for every agent change, so the set of agents saved is always current.
      const moved = change.type === 'agent' && this.factsChanged(change.agent_id)
      if (change.type !== 'agent' || change.restart_id !== undefined || moved) this.changed()
    })
  }

  /** What a previous hub saved: agents first (their restarts), then healing, then rollouts. */
  restore(state: FleetState): void {
    this.o.fleet.restore(state.agents)
    for (const saved of state.agents) this.factsChanged(saved.agent_id)
    this.o.healing.restore(state.healing)
    this.o.rollouts.restore(state.rollouts)
    this.o.log.info('fleet state restored', { agents: state.agents.length, rollouts: state.rollouts.length, healing_actions: state.healing.actions.length })
  }

  /** Something saved changed (also what publishes no change: healing's pause and resume). */
  changed(): void {
    this.persister.touch()
  }

  /** Resolves once every change so far is saved; rejects when that save failed. */
  durable(): Promise<void> {
    return this.persister.durable()
  }

  get storage(): StorageHealth {
    return this.persister.health
  }

  private factsChanged(agentId: string): boolean {
    const now = savedFacts(this.o.fleet.get(agentId))
    if (now === (this.facts.get(agentId) ?? 0)) return false
    if (now === 0) this.facts.delete(agentId)
    else this.facts.set(agentId, now)
    return true
  }

  private snapshot(): FleetState {
    const agents = []
    for (const agentId of this.facts.keys()) {
      const rec = this.o.fleet.get(agentId)
      if (!rec) continue
      const { supervised, pm2_info, last_seen, drained, quarantined, restart } = rec
      agents.push({ agent_id: agentId, supervised, pm2_info, last_seen, drained, quarantined, restart })
    }
    const rollouts = this.o.rollouts.list().map(({ offlineTimer: _timer, ...saved }) => saved)
    return { agents, rollouts, healing: this.o.healing.saved() }
  }

  close(): void {
    this.unsubscribe()
    this.persister.close()
  }
}

/** The worse of two stores' health: failing if either is, since the earlier failure. */
export function worseHealth(a: StorageHealth, b: StorageHealth | undefined): StorageHealth {
  if (!b || b.failing_since === null) return a
  if (a.failing_since === null) return b
  return { failing_since: Math.min(a.failing_since, b.failing_since), failed_saves: a.failed_saves + b.failed_saves }
}
