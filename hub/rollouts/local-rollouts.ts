/**
 * The hub's rollouts: one engine (engine.ts) over the hub's `store.rollouts` (a cluster's rows,
 * stepped from its bus and its sweep, hub/cluster/runtime.ts) or, unset, over this hub's memory,
 * stepped as its change feed shows restarts move and agents come back.
 */
import type { Clock } from '../../shared/time.ts'
import type { Logger } from '../../shared/log.ts'
import type { Fleet } from '../agents/fleet.ts'
import type { ChangeFeed } from '../events/changes.ts'
import { RolloutEngine } from './engine.ts'
import { MemoryRolloutStore, type SavedRollout } from './memory-store.ts'
import type { RolloutStore } from './rollout-store.ts'

export interface HubRolloutsOptions {
  fleet: Fleet
  changes: ChangeFeed
  clock: Clock
  log: Logger
  newId: () => string
  /** How long to wait for an agent that is offline at its turn before failing. */
  offlineWaitMs: number
  /** The hub's `store.rollouts` (HubOptions.store); unset: this hub's memory. */
  store?: RolloutStore
  /** Delivers a restart a step recorded for an agent on this hub (the hub's restart engine). */
  deliverRestart(restartId: string): Promise<void>
  /** Where one hub's rollouts are saved (hub/store/fleet-saver.ts); null: memory only. */
  saver(): { rolloutChanged(rolloutId: string): void; durable(): Promise<void> } | null
}

/** The engine, and, when it runs over this hub's memory, that store (null over a given store). */
export function createHubRollouts(o: HubRolloutsOptions): { engine: RolloutEngine; local: LocalRollouts | null } {
  const memory = o.store ? null : new MemoryRolloutStore({
    fleet: o.fleet, clock: o.clock,
    changed: (id) => o.saver()?.rolloutChanged(id),
    durable: () => o.saver()?.durable() ?? Promise.resolve(),
  })
  const store: RolloutStore = o.store ?? memory!
  const engine = new RolloutEngine({
    store, log: o.log, newId: o.newId, offlineWaitMs: o.offlineWaitMs, deliverRestart: o.deliverRestart,
    announce: async (id) => {
      o.changes.publish({ type: 'rollout', rollout_id: id })
      await store.announce?.(id).catch((err) => o.log.warn('could not announce a rollout change', { rollout_id: id, error: String(err) }))
    },
  })
  return { engine, local: memory && followLocalRollouts(memory, engine, o) }
}

/** One hub's rollouts stepped on its change feed, and what its fleet state saver saves of them. */
function followLocalRollouts(store: MemoryRolloutStore, engine: RolloutEngine, o: HubRolloutsOptions) {
  const { fleet, changes } = o
  const publish = (rolloutId: string) => changes.publish({ type: 'rollout', rollout_id: rolloutId })
  const unsubscribe = changes.on('agent', (change) => {
    if (fleet.isAvailable(change.agent_id)) engine.agentAvailable()
    if (change.restart_id === undefined) return
    const rolloutId = store.rolloutOfRestart(change.restart_id)
    if (!rolloutId) return
    // Its view shows the restart's new state; a restart over lets the rollout step on.
    store.restartMoved(change.restart_id)
    publish(rolloutId)
    void engine.step(rolloutId)
  })
  return {
    store,
    saved: (rolloutId: string) => store.saved(rolloutId),
    /** The rollouts a previous hub saved, after the fleet's agents: running ones step on. */
    restore(saved: readonly SavedRollout[]): void {
      store.restore(saved)
      for (const id of store.ids()) publish(id)
      void engine.tick().catch((err) => o.log.warn('restored rollouts could not step', { error: String(err) }))
    },
    close(): void {
      unsubscribe()
    },
  }
}

export type LocalRollouts = ReturnType<typeof followLocalRollouts>
