/**
 * A single hub's saves of its fleet state (fleet-state.ts): restores what a previous hub saved,
 * then saves again after every change that matters (a restart's state, a drain, a quarantine, a
 * rollout, a healing action or pause) through a Persister: coalesced, never marked saved when
 * the write failed, retried on its own, and its health shown on GET /health. Healing tells it
 * when its history or flag changed (`healingChanged`) and when an agent's last process or
 * crashes changed (`watchChanged`), not at every identify. Agents' stats,
 * pings and task traffic change nothing saved and cost one map lookup each. Each agent's and
 * each rollout's JSON is kept and encoded again only when it changed, and a save appends only
 * those to the store's journal (fleet-journal.ts), so a save costs what changed; the whole
 * state, written when the store compacts its journal, is a join of the kept strings and of the
 * watched agents encoded then (one per agent of the fleet: not worth a megabyte kept per 10,000).
 */
import type { Clock } from '../../shared/time.ts'
import type { Logger } from '../../shared/log.ts'
import type { Change, ChangeFeed } from '../events/changes.ts'
import type { AgentRecord, Fleet, SavedAgent } from '../agents/fleet.ts'
import type { LocalRollouts } from '../rollouts/local-rollouts.ts'
import type { LocalHealing } from '../healing/local-healing.ts'
import type { MemoryAlertEpisodes } from '../alerts/fleet-alerts.ts'
import { Persister, type StorageHealth } from './persister.ts'
import { encodeFleetState, type FleetState, type FleetStateStore } from './fleet-state.ts'
import { goneLine, setLine, wholeLine, type KeyedSection } from './fleet-journal.ts'

/**
 * Saves start at least this far apart unless an answer waits for one (durableNow: an admin
 * restart, drain or resume, hub/store/saved-answers.ts; rollouts' and healing's own): what no
 * one was answered about (an agent's restart completing, a crash counted) rides on the next
 * save, so a burst of them is one append, not one fsync each. A hub killed may lose up to this
 * much of those.
 */
export const SAVE_SPACING_MS = 1000

export interface FleetSaverOptions {
  fleet: Fleet
  rollouts: Pick<LocalRollouts, 'saved' | 'restore'>
  healing: Pick<LocalHealing, 'restore' | 'saved' | 'savedWatch'>
  /** The fleet alerts' episodes: which agents were alerted offline. */
  alertEpisodes: Pick<MemoryAlertEpisodes, 'offlineAlerted' | 'isOfflineAlerted' | 'restore'>
  changes: ChangeFeed
  store: FleetStateStore
  clock: Clock
  log: Logger
  /** While saves fail, they are tried again this often. */
  retryMs: number
}

/**
 * Which of an agent's saved facts it has: a restart, drained, quarantined, alerted offline (so
 * the next hub knows the agent the alert was about). 0: nothing saved.
 */
function savedFacts(rec: AgentRecord | undefined, alertedOffline: boolean): number {
  if (!rec) return 0
  return (rec.restart ? 1 : 0) | (rec.drained ? 2 : 0) | (rec.quarantined ? 4 : 0) | (alertedOffline ? 8 : 0)
}

export class FleetSaver {
  private readonly persister: Persister<{ lines: string; snapshot: (generation?: number) => string }>
  /** savedFacts of every agent with any, as of its last change: a change that alters it saves. */
  private readonly facts = new Map<string, number>()
  /** The saved JSON of each agent with facts and of each rollout kept, and which are stale. */
  private readonly agentJson = new Map<string, string>()
  private readonly staleAgents = new Set<string>()
  private readonly rolloutJson = new Map<string, string>()
  private readonly staleRollouts = new Set<string>()
  private healingJson: string | null = null
  private alertedJson: string | null = null
  /**
   * The agents healing keeps a process and crashes of (LocalHealing.savedWatch), and which are
   * stale. Their JSON is not kept: one per agent of the fleet, it would hold about a megabyte
   * per 10,000 agents for the compactions only, which encode them anew.
   */
  private readonly watched = new Set<string>()
  private readonly staleWatches = new Set<string>()
  private readonly unsubscribe: () => void

  constructor(private readonly o: FleetSaverOptions) {
    const store = o.store
    // A save hands the store what changed (the journal's lines) and how to make the whole state.
    this.persister = new Persister({
      save: ({ lines, snapshot }) => (store.saveChanges ? store.saveChanges(lines, snapshot) : store.save(snapshot())),
    }, () => this.collect(), {
      log: o.log, now: () => o.clock.now(), retryMs: o.retryMs, what: 'fleet state', minIntervalMs: SAVE_SPACING_MS,
    })
    this.unsubscribe = o.changes.subscribe((change) => this.onChange(change))
  }

  private onChange(change: Change): void {
    switch (change.type) {
      case 'task':
        return
      case 'agent': {
        if (change.stats) return
        // Evaluated for every agent change, so the set of agents saved is always current.
        const moved = this.factsChanged(change.agent_id)
        if (!moved && change.restart_id === undefined) return
        this.staleAgents.add(change.agent_id)
        break
      }
      case 'rollout':
        this.staleRollouts.add(change.rollout_id)
        break
      case 'healing':
        this.healingJson = null
        break
    }
    this.persister.touch()
  }

  /** What a previous hub saved: agents first (their restarts), then healing, then rollouts. */
  restore(state: FleetState): void {
    this.o.alertEpisodes.restore(state.alertedOffline) // first: it is one of the agents' saved facts
    this.o.fleet.restore(state.agents)
    for (const saved of state.agents) {
      this.factsChanged(saved.agent_id)
      this.staleAgents.add(saved.agent_id)
    }
    this.o.healing.restore(state.healing)
    for (const watch of state.healing.agents ?? []) this.staleWatches.add(watch.agent_id)
    this.o.rollouts.restore(state.rollouts)
    this.o.log.info('fleet state restored', { agents: state.agents.length, rollouts: state.rollouts.length, healing_actions: state.healing.actions.length })
  }

  /**
   * A rollout changed or was forgotten. Its store answers once saved (hub/rollouts/memory-store.ts),
   * so this save does not wait out SAVE_SPACING_MS: a rollout's steps are few, a restart burst's are not.
   */
  rolloutChanged(rolloutId: string): void {
    this.staleRollouts.add(rolloutId)
    this.persister.touch()
    this.persister.hurry()
  }

  /**
   * Healing's history or paused flag changed. Its store answers once saved (a decider step, a
   * pause: hub/healing/memory-healing-store.ts), so this save does not wait out SAVE_SPACING_MS.
   */
  healingChanged(): void {
    this.healingJson = null
    this.persister.touch()
    this.persister.hurry()
  }

  /** An agent was alerted offline or seen back after it (the episodes' `changed`). */
  alertsChanged(agentId: string): void {
    this.alertedJson = null
    if (this.factsChanged(agentId)) this.staleAgents.add(agentId)
    this.persister.touch()
  }

  /** What healing keeps of the agent changed (a crash counted, a new process seen, an agent forgotten). */
  watchChanged(agentId: string): void {
    this.staleWatches.add(agentId)
    this.persister.touch()
  }

  /** Resolves once every change so far is saved; rejects when that save failed. */
  durable(): Promise<void> {
    return this.persister.durable()
  }

  /**
   * durable(), the save started without waiting out SAVE_SPACING_MS: an admin answer waits for
   * it (a restart, drain or resume is acknowledged once kept, as a cluster's once committed).
   */
  durableNow(): Promise<void> {
    this.persister.hurry()
    return this.persister.durable()
  }

  get storage(): StorageHealth {
    return this.persister.health
  }

  private factsChanged(agentId: string): boolean {
    const now = savedFacts(this.o.fleet.get(agentId), this.o.alertEpisodes.isOfflineAlerted(agentId))
    if (now === (this.facts.get(agentId) ?? 0)) return false
    if (now === 0) this.facts.delete(agentId)
    else this.facts.set(agentId, now)
    return true
  }

  /**
   * Encodes what changed since the last save into the kept JSON and returns it as journal lines,
   * with the whole state (the kept JSON joined) for a store that writes a snapshot instead.
   */
  private collect(): { lines: string; snapshot: (generation?: number) => string } {
    let lines = ''
    const refresh = (section: KeyedSection, stale: Set<string>, kept: Map<string, string>, json: (id: string) => string | null) => {
      for (const id of stale) {
        const text = json(id)
        if (text !== null) {
          kept.set(id, text)
          lines += setLine(section, text)
        } else {
          // Also when not kept here: it may be in the store from a previous hub (restored, not yet saved again).
          kept.delete(id)
          lines += goneLine(section, id)
        }
      }
      stale.clear()
    }
    refresh('agent', this.staleAgents, this.agentJson, (agentId) => {
      const rec = this.o.fleet.get(agentId)
      return rec && this.facts.has(agentId) ? JSON.stringify(savedAgent(rec)) : null
    })
    refresh('rollout', this.staleRollouts, this.rolloutJson, (rolloutId) => {
      const rollout = this.o.rollouts.saved(rolloutId)
      return rollout ? JSON.stringify(rollout) : null
    })
    for (const agentId of this.staleWatches) {
      const watch = this.o.healing.savedWatch(agentId)
      if (watch) {
        this.watched.add(agentId)
        lines += setLine('watch', JSON.stringify(watch))
      } else {
        this.watched.delete(agentId)
        lines += goneLine('watch', agentId)
      }
    }
    this.staleWatches.clear()
    if (this.healingJson === null) lines += wholeLine('healing', this.healingJson = JSON.stringify(this.o.healing.saved()))
    if (this.alertedJson === null) lines += wholeLine('alerted_offline', this.alertedJson = JSON.stringify(this.o.alertEpisodes.offlineAlerted()))
    const healing = this.healingJson
    const alertedOffline = this.alertedJson
    const snapshot = (generation?: number) => encodeFleetState({
      agents: this.agentJson.values(), rollouts: this.rolloutJson.values(), healing, healingAgents: this.watchJsons(), alertedOffline, generation,
    })
    return { lines, snapshot }
  }

  /** Each watched agent's saved process and crashes as JSON, as of now (a compaction's snapshot). */
  private *watchJsons(): Iterable<string> {
    for (const agentId of this.watched) {
      const watch = this.o.healing.savedWatch(agentId)
      if (watch) yield JSON.stringify(watch)
    }
  }

  close(): void {
    this.unsubscribe()
    this.persister.close()
  }
}

function savedAgent(rec: AgentRecord): SavedAgent {
  const { agent_id, supervised, pm2_info, last_seen, drained, quarantined, restart } = rec
  return { agent_id, supervised, pm2_info, last_seen, drained, quarantined, restart }
}

/** The worse of two stores' health: failing if either is, since the earlier failure. */
export function worseHealth(a: StorageHealth, b: StorageHealth | undefined): StorageHealth {
  if (!b || b.failing_since === null) return a
  if (a.failing_since === null) return b
  return { failing_since: Math.min(a.failing_since, b.failing_since), failed_saves: a.failed_saves + b.failed_saves }
}
