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

export interface FleetRestartsDeps extends Pick<RestartEngineDeps, 'holds' | 'moved'> {
  clock: Clock
  log: Logger
  newId: () => string
  changes: ChangeFeed
  /** AGENTCOM_OFFLINE_TTL_S in ms: how long an offline agent is remembered. */
  offlineTtlMs: number
  /** AGENTCOM_RESTART_TIMEOUT_S in ms. */
  timeoutMs: number
  /** Where restarts are kept: the cluster's rows. Default: this hub's memory (saved in the data dir by hub/store/). */
  store?: RestartEngineDeps['store']
}

export function createFleetRestarts(d: FleetRestartsDeps) {
  let restarts: RestartEngine | null = null
  const fleet = new Fleet({ clock: d.clock, log: d.log, offlineTtlMs: d.offlineTtlMs, changes: d.changes, restarts: forwardRestarts(() => restarts!) })
  restarts = new RestartEngine({
    store: d.store ?? new MemoryRestartStore({ clock: d.clock, agent: (id) => fleet.get(id) }),
    fleet, bus: fleet.bus, changes: d.changes, clock: d.clock, log: d.log, newId: d.newId, timeoutMs: d.timeoutMs, holds: d.holds, moved: d.moved,
  })
  return { fleet, restarts }
}
