/**
 * The fleet and its restart engine, wired once: the Fleet reaches the engine through
 * forwardRestarts, the engine reaches the fleet, its bus and the change feed. createHub builds
 * them here, and so does a test harness that needs a fleet whose restarts work as the hub's
 * (support/healing-engine.ts): a change to the wiring is the change for both.
 */
import type { Clock } from '../../shared/time.ts'
import type { Logger } from '../../shared/log.ts'
import type { ChangeFeed } from '../events/changes.ts'
import { Fleet } from './fleet.ts'
import { forwardRestarts, RestartEngine, type RestartEngineDeps } from './restart-engine.ts'
import { MemoryRestartStore } from './memory-restart-store.ts'

export interface FleetRestartsDeps {
  clock: Clock
  log: Logger
  newId: () => string
  changes: ChangeFeed
  /** AGENTCOM_OFFLINE_TTL_S in ms: how long an offline agent is remembered. */
  offlineTtlMs: number
  /** AGENTCOM_RESTART_TIMEOUT_S in ms. */
  timeoutMs: number
}

export function createFleetRestarts(d: FleetRestartsDeps) {
  let restarts: RestartEngine | null = null
  const fleet = new Fleet({ clock: d.clock, log: d.log, offlineTtlMs: d.offlineTtlMs, changes: d.changes, restarts: forwardRestarts(() => restarts!) })
  return {
    fleet,
    /** The engine, once one of the two below built it (before any agent identifies). */
    get restarts(): RestartEngine | null {
      return restarts
    },
    /** Builds the restart engine over `store`; from then on it is the fleet's. */
    useStore(store: RestartEngineDeps['store'], more: Pick<RestartEngineDeps, 'holds' | 'moved'> = {}): RestartEngine {
      restarts = new RestartEngine({ store, fleet, bus: fleet.bus, changes: d.changes, clock: d.clock, log: d.log, newId: d.newId, timeoutMs: d.timeoutMs, ...more })
      return restarts
    },
    /** One hub's: the engine over its memory (saved in the data dir by hub/store/). */
    useMemory(): RestartEngine {
      return this.useStore(new MemoryRestartStore({ clock: d.clock, agent: (id) => fleet.get(id) }))
    },
  }
}
