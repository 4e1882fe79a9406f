/**
 * The faults of a run, drawn from a seeded PRNG before it starts: the same seed, duration and
 * fleet give the same schedule. One fault at a time, each followed by a quiet gap, so the fleet
 * is asked to recover from each and the history tells which fault a symptom followed.
 */
import { FAULT_KINDS, type FaultKind } from './history.ts'
import { between, pick, seededRandom } from './prng.ts'

export interface PlannedFault {
  /** ms since the run's start. */
  at: number
  kind: FaultKind
  /** A sidecar's agent id, a hub's name, or `postgres`. */
  target: string
  /** How long it lasts (a stopped database, a blackhole, a killed hub left down); 0 for an instant one. */
  durationMs: number
}

export const GAP_MS = { min: 8_000, max: 20_000 }
/** The contract's range for PostgreSQL stopped. */
export const POSTGRES_DOWN_MS = { min: 5_000, max: 20_000 }
export const BLACKHOLE_MS = { min: 5_000, max: 30_000 }
export const HUB_DOWN_MS = { min: 1_000, max: 5_000 }

export function planFaults(seed: number, runMs: number, fleet: { sidecars: string[]; hubs: string[] }): PlannedFault[] {
  const random = seededRandom(seed)
  const faults: PlannedFault[] = []
  let at = between(random, 3_000, GAP_MS.min)
  for (;;) {
    const kind = pick(random, FAULT_KINDS)
    const [target, durationMs] = kind === 'stop_postgres' ? ['postgres', between(random, POSTGRES_DOWN_MS.min, POSTGRES_DOWN_MS.max)]
      : kind === 'kill_hub' ? [pick(random, fleet.hubs), between(random, HUB_DOWN_MS.min, HUB_DOWN_MS.max)]
      : kind === 'blackhole_sidecar' ? [pick(random, fleet.sidecars), between(random, BLACKHOLE_MS.min, BLACKHOLE_MS.max)]
      : [pick(random, fleet.sidecars), 0]
    if (at + durationMs >= runMs) break
    faults.push({ at, kind, target, durationMs })
    at += durationMs + between(random, GAP_MS.min, GAP_MS.max)
  }
  return faults
}
