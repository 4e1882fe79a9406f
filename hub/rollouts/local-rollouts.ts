/**
 * One hub's rollouts: the engine over the memory store, stepped as this hub's change feed shows
 * restarts move and agents come back (a cluster steps its rollouts from the bus and its sweep
 * instead, hub/cluster/runtime.ts).
 */
import type { Clock } from '../../shared/time.ts'
import type { Logger } from '../../shared/log.ts'
import type { Fleet } from '../agents/fleet.ts'
import type { ChangeFeed } from '../events/changes.ts'
import { RolloutEngine } from './engine.ts'
import { MemoryRolloutStore, type SavedRollout } from './memory-store.ts'

export interface LocalRolloutsOptions {
  fleet: Fleet
  changes: ChangeFeed
  clock: Clock
  log: Logger
  newId: () => string
  /** How long to wait for an agent that is offline at its turn before failing. */
  offlineWaitMs: number
  /** Where the rollouts are saved (hub/store/fleet-saver.ts); null: memory only. */
  saver(): { rolloutChanged(rolloutId: string): void; durable(): Promise<void> } | null
}

export function createLocalRollouts(o: LocalRolloutsOptions) {
  const { fleet, changes } = o
  const store = new MemoryRolloutStore({
    fleet, clock: o.clock,
    changed: (id) => o.saver()?.rolloutChanged(id),
    durable: () => o.saver()?.durable() ?? Promise.resolve(),
  })
  const publish = (rolloutId: string) => changes.publish({ type: 'rollout', rollout_id: rolloutId })
  const engine = new RolloutEngine({ store, log: o.log, newId: o.newId, offlineWaitMs: o.offlineWaitMs, announce: publish })
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
    engine,
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
      engine.close()
    },
  }
}

export type LocalRollouts = ReturnType<typeof createLocalRollouts>
