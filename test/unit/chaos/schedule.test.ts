/**
 * The fault schedule of `npm run chaos` and its injectors: the same seed gives the same
 * schedule, every fault within its bounds, and each injector does to the fleet (a recorder
 * standing for it) what its kind says, recording the fault first with its end.
 */
import { describe, expect, it } from 'vitest'
import { History } from '../../../scripts/chaos/history.ts'
import { injectFault, type FaultTargets } from '../../../scripts/chaos/injectors.ts'
import { BLACKHOLE_MS, GAP_MS, HUB_DOWN_MS, POSTGRES_DOWN_MS, planFaults, type PlannedFault } from '../../../scripts/chaos/schedule.ts'

const fleet = { sidecars: ['s1', 's2', 's3', 's4', 's5', 's6'], hubs: ['node', 'deno'] }

describe('planFaults', () => {
  it('is the same for the same seed and differs for another', () => {
    expect(planFaults(7, 600_000, fleet)).toEqual(planFaults(7, 600_000, fleet))
    expect(planFaults(8, 600_000, fleet)).not.toEqual(planFaults(7, 600_000, fleet))
  })

  it('keeps every fault within the run, its kind bounds and the gaps, one at a time', () => {
    const plan = planFaults(1234, 30 * 60_000, fleet)
    expect(new Set(plan.map((f) => f.kind))).toEqual(new Set(['kill_sidecar', 'kill_hub', 'stop_postgres', 'cut_sidecar', 'blackhole_sidecar']))
    for (const [i, f] of plan.entries()) {
      expect(f.at + f.durationMs).toBeLessThan(30 * 60_000)
      if (i > 0) expect(f.at - (plan[i - 1].at + plan[i - 1].durationMs)).toBeGreaterThanOrEqual(GAP_MS.min)
      const bounds = { stop_postgres: POSTGRES_DOWN_MS, blackhole_sidecar: BLACKHOLE_MS, kill_hub: HUB_DOWN_MS }[f.kind as string] ?? { min: 0, max: 0 }
      expect(f.durationMs).toBeGreaterThanOrEqual(bounds.min)
      expect(f.durationMs).toBeLessThanOrEqual(bounds.max)
      expect(f.kind === 'stop_postgres' ? ['postgres'] : f.kind === 'kill_hub' ? fleet.hubs : fleet.sidecars).toContain(f.target)
    }
  })
})

function recorder() {
  const calls: string[] = []
  const targets: FaultTargets = {
    killSidecar: async (id) => void calls.push(`killSidecar ${id}`),
    killHub: async (hub) => void calls.push(`killHub ${hub}`),
    startHub: async (hub) => void calls.push(`startHub ${hub}`),
    stopPostgres: async () => void calls.push('stopPostgres'),
    startPostgres: async () => void calls.push('startPostgres'),
    cutSidecar: (id) => void calls.push(`cutSidecar ${id}`),
    blackholeSidecar: (id) => void calls.push(`blackholeSidecar ${id}`),
    restoreSidecar: (id) => void calls.push(`restoreSidecar ${id}`),
    sleep: async (ms) => void calls.push(`sleep ${ms}`),
  }
  return { calls, targets }
}

describe('injectFault', () => {
  const cases: [PlannedFault, string[]][] = [
    [{ at: 0, kind: 'kill_sidecar', target: 's2', durationMs: 0 }, ['killSidecar s2']],
    [{ at: 0, kind: 'cut_sidecar', target: 's3', durationMs: 0 }, ['cutSidecar s3']],
    [{ at: 0, kind: 'kill_hub', target: 'deno', durationMs: 2000 }, ['killHub deno', 'sleep 2000', 'startHub deno']],
    [{ at: 0, kind: 'stop_postgres', target: 'postgres', durationMs: 7000 }, ['stopPostgres', 'sleep 7000', 'startPostgres']],
    [{ at: 0, kind: 'blackhole_sidecar', target: 's1', durationMs: 9000 }, ['blackholeSidecar s1', 'sleep 9000', 'restoreSidecar s1']],
  ]
  for (const [fault, expected] of cases) {
    it(`${fault.kind}: ${expected.join(', ')}; recorded first, lasting its duration`, async () => {
      const { calls, targets } = recorder()
      const history = new History()
      await injectFault(fault, targets, history)
      expect(calls).toEqual(expected)
      expect(history.entries).toHaveLength(1)
      const [entry] = history.entries
      expect(entry).toMatchObject({ type: 'fault', kind: fault.kind, target: fault.target })
      if (entry.type === 'fault') expect(entry.until - entry.t).toBeGreaterThanOrEqual(fault.durationMs)
    })
  }
})
