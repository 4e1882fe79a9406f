/**
 * One hub's healing budget survives a hub restart (as a cluster's, counted from its rows): the
 * policy a new hub restores from the saved history refuses what the old one would have, on a
 * fake clock. Across hubs on both stores: test/behaviour/hub-restart.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { HealingPolicy, type SavedHealing } from '../../hub/healing/healing-policy.ts'
import type { HealingSettings } from '../../hub/healing/healing-settings.ts'

const MB = 1024 * 1024
const S = 1000
const T0 = 1_700_000_000_000

function hub(settings: Partial<HealingSettings>, clock = { t: T0, now: () => clock.t }) {
  let ids = 0
  const policy = new HealingPolicy({ clock, newId: () => `h-${++ids}-${clock.t}`, settings })
  return {
    clock, policy,
    join: (agentId: string) => policy.agentIdentified(agentId, { supervised: true, pm2: { restart_count: 0, pid: 1 }, restartCommanded: false }),
    /** Two reports above the limit (the second asks, or the first when a refused one asked already): their decisions. */
    overLimit: (agentId: string) => {
      const decisions = [policy.statsReported(agentId, 200 * MB), policy.statsReported(agentId, 200 * MB)].flatMap((o) => o.decisions)
      return { decisions }
    },
  }
}

/** A restart of `agentId` for memory, commanded (and completed unless `inFlight`), then the hub stops: what it saved. */
function savedAfterOneRestart(settings: Partial<HealingSettings>, agentId: string, inFlight = false): { saved: SavedHealing; restartId: string } {
  const first = hub(settings)
  first.join(agentId)
  const [decision] = first.overLimit(agentId).decisions
  expect(decision).toMatchObject({ action: 'restart', agent_id: agentId })
  first.policy.restartCommanded(decision.action_id, 'r-1', 'commanded')
  if (!inFlight) first.policy.restartChanged('r-1', 'completed')
  return { saved: structuredClone(first.policy.saved()), restartId: 'r-1' }
}

describe('healing restored on a new hub', () => {
  it('keeps the per-agent limit within the window: escalates instead of restarting, until the window has passed', () => {
    const settings = { maxMemoryMb: 100, maxPerAgent: 1, cooldownS: 0, windowS: 600 }
    const { saved } = savedAfterOneRestart(settings, 'a-1')
    const next = hub(settings)
    expect(next.policy.restore(saved)).toEqual([])
    next.join('a-1')
    expect(next.overLimit('a-1').decisions.map((d) => d.action)).toEqual(['escalate'])
    next.clock.t += 601 * S
    expect(next.overLimit('a-1').decisions.map((d) => d.action)).toEqual(['restart'])
  })

  it('keeps the cooldown from the end of the last healing restart', () => {
    const settings = { maxMemoryMb: 100, cooldownS: 300 }
    const { saved } = savedAfterOneRestart(settings, 'a-1')
    const next = hub(settings)
    next.policy.restore(saved)
    next.join('a-1')
    expect(next.overLimit('a-1').decisions).toEqual([])
    next.clock.t += 301 * S
    expect(next.overLimit('a-1').decisions.map((d) => d.action)).toEqual(['restart'])
  })

  it('hands back a restart in flight, which holds the fleet-wide limit until it ends', () => {
    const settings = { maxMemoryMb: 100, maxConcurrent: 1, cooldownS: 0 }
    const { saved, restartId } = savedAfterOneRestart(settings, 'a-1', true)
    const next = hub(settings)
    const inFlight = next.policy.restore(saved)
    expect(inFlight).toMatchObject([{ agent_id: 'a-1', restart_id: restartId, state: 'commanded' }])
    next.join('a-2')
    expect(next.overLimit('a-2').decisions).toEqual([])
    const over = next.policy.restartChanged(restartId, 'completed')
    expect(over.actions).toMatchObject([{ restart_id: restartId, state: 'completed' }])
    expect(next.overLimit('a-2').decisions.map((d) => d.action)).toEqual(['restart'])
  })

  it('keeps the pm2 baseline and the crashes within the window: a restart while no hub ran counts', () => {
    const settings = { crashLimit: 3, windowS: 600 }
    const identify = (h: ReturnType<typeof hub>, restarts: number) =>
      h.policy.agentIdentified('a-1', { supervised: true, pm2: { restart_count: restarts, pid: 100 + restarts }, restartCommanded: false })
    const first = hub(settings)
    for (const restarts of [0, 1, 2]) identify(first, restarts)
    const saved = { ...first.policy.saved(), agents: [{ ...first.policy.savedWatch('a-1')!, keep_until: null }] }
    expect(saved.agents[0]).toEqual({ agent_id: 'a-1', restart_count: 2, pid: 102, crashes: [T0, T0], keep_until: null })

    const within = hub(settings)
    within.policy.restore(structuredClone(saved))
    expect(identify(within, 2).decisions).toEqual([])
    expect(identify(within, 3).decisions).toMatchObject([{ action: 'quarantine', agent_id: 'a-1', rule: 'crash_loop' }])

    const later = hub(settings)
    later.clock.t += 600 * S
    later.policy.restore(structuredClone(saved))
    expect(identify(later, 3).decisions).toEqual([])
    expect(later.policy.savedWatch('a-1')).toMatchObject({ restart_count: 3, crashes: [T0 + 600 * S] })
  })
})
