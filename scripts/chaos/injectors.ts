/**
 * Carries out one planned fault on the fleet, through the narrow seam `FaultTargets` (the real
 * one is fleet.ts; unit tests pass a recorder), and records it in the history first, with the
 * time it ends, so the checks know what may have interrupted what.
 */
import type { History } from './history.ts'
import type { PlannedFault } from './schedule.ts'

export interface FaultTargets {
  /** kill -9 of the sidecar's process (pm2 starts it again). */
  killSidecar(agentId: string): Promise<void>
  /** kill -9 of the hub's process. */
  killHub(hub: string): Promise<void>
  startHub(hub: string): Promise<void>
  stopPostgres(): Promise<void>
  startPostgres(): Promise<void>
  /** Resets the sidecar's connections through its proxy (it reconnects at once). */
  cutSidecar(agentId: string): void
  /** Its connections pass nothing, either way, new ones included, until `restoreSidecar`. */
  blackholeSidecar(agentId: string): void
  restoreSidecar(agentId: string): void
  sleep(ms: number): Promise<void>
}

export async function injectFault(fault: PlannedFault, targets: FaultTargets, history: History): Promise<void> {
  const t = history.now()
  history.add({ t, type: 'fault', kind: fault.kind, target: fault.target, until: t + fault.durationMs })
  switch (fault.kind) {
    case 'kill_sidecar':
      return targets.killSidecar(fault.target)
    case 'cut_sidecar':
      return targets.cutSidecar(fault.target)
    case 'kill_hub':
      await targets.killHub(fault.target)
      await targets.sleep(fault.durationMs)
      await targets.startHub(fault.target)
      break
    case 'stop_postgres':
      await targets.stopPostgres()
      await targets.sleep(fault.durationMs)
      await targets.startPostgres()
      break
    case 'blackhole_sidecar':
      targets.blackholeSidecar(fault.target)
      await targets.sleep(fault.durationMs)
      targets.restoreSidecar(fault.target)
      break
  }
  // A fault that took longer than planned (a slow restart) lasts until it is over.
  const fault_ = history.entries.findLast((e) => e.type === 'fault' && e.t === t)
  if (fault_ && fault_.type === 'fault') fault_.until = Math.max(fault_.until, history.now())
}
