/**
 * One hub's healing survives a hub restart (as a cluster's, counted from its rows): the engine
 * a new hub restores from what the old one saved refuses what the old one would have, on a test
 * clock. Across hubs on both stores: test/behaviour/hub-restart.test.ts; the file itself:
 * test/unit/fleet-state.test.ts.
 */
import { describe, expect, it } from 'vitest'
import type { HealingSettings } from '../../hub/healing/healing-settings.ts'
import { healingEngine, S, T0 } from '../../support/healing-engine.ts'

/** A memory restart of `agentId`, commanded (and obeyed unless `inFlight`), then the hub stops: what it saved. */
async function savedAfterOneRestart(settings: Partial<HealingSettings>, agentId: string, inFlight = false) {
  const first = healingEngine({ settings })
  await first.join(agentId)
  await first.overTwice(agentId, 200)
  expect(first.restart(agentId)).toMatchObject({ reason: 'heal:memory' })
  if (!inFlight) await first.obey(agentId)
  return first.saved()
}

describe('healing restored on a new hub', () => {
  it('keeps the per-agent limit within the window: escalates instead of restarting, until the window has passed', async () => {
    const settings = { maxMemoryMb: 100, maxPerAgent: 1, cooldownS: 0, windowS: 600 }
    const next = healingEngine({ settings, saved: await savedAfterOneRestart(settings, 'a-1') })
    await next.join('a-1', { restartCount: 1, pid: 1001 })
    await next.overTwice('a-1', 200)
    expect([next.restart('a-1'), (await next.actions())[0].action]).toEqual([null, 'escalate'])
    next.advance(601)
    await next.report('a-1', 200)
    expect(next.restart('a-1')).toMatchObject({ reason: 'heal:memory' })
  })

  it('keeps the cooldown from the end of the last healing restart', async () => {
    const settings = { maxMemoryMb: 100, cooldownS: 300 }
    const next = healingEngine({ settings, saved: await savedAfterOneRestart(settings, 'a-1') })
    await next.join('a-1', { restartCount: 1, pid: 1001 })
    await next.overTwice('a-1', 200)
    expect(next.restart('a-1')).toBeNull()
    next.advance(301)
    await next.report('a-1', 200)
    expect(next.restart('a-1')).toMatchObject({ reason: 'heal:memory' })
  })

  it('follows a restart in flight as the fleet restored it, which holds the fleet-wide limit until it ends', async () => {
    const settings = { maxMemoryMb: 100, maxConcurrent: 1, cooldownS: 0 }
    const saved = await savedAfterOneRestart(settings, 'a-1', true)
    const next = healingEngine({ settings, saved })
    await next.join('a-2')
    await next.overTwice('a-2', 200)
    expect(next.restart('a-2')).toBeNull()
    // a-1 comes back from the restart the old hub commanded: not a crash, and the action completes.
    await next.join('a-1', { restartCount: 1, pid: 1001 })
    expect((await next.actions())[0]).toMatchObject({ agent_id: 'a-1', restart_id: saved.agents[0].restart!.restart_id, state: 'completed' })
    expect(next.fleet.get('a-1')!.quarantined).toBe(false)
    await next.report('a-2', 200)
    expect(next.restart('a-2')).toMatchObject({ reason: 'heal:memory' })
  })

  it('fails a restart in flight the fleet did not keep (lost with the previous hub), and alerts', async () => {
    const settings = { maxMemoryMb: 100 }
    const saved = await savedAfterOneRestart(settings, 'a-1', true)
    const next = healingEngine({ settings, saved: { ...saved, agents: [] } })
    await next.settle()
    expect((await next.actions())[0]).toMatchObject({ state: 'failed', detail: expect.stringMatching(/; restart failed: lost with the previous hub$/) })
    expect(next.alerts).toEqual([expect.objectContaining({ type: 'heal_failed', agent_id: 'a-1' })])
  })

  it('keeps the pm2 baseline and the crashes within the window: a restart while no hub ran counts', async () => {
    const settings = { crashLimit: 3, windowS: 600 }
    const first = healingEngine({ settings })
    await first.join('a-1', { restartCount: 0, pid: 100 })
    await first.restarted('a-1')
    await first.restarted('a-1')
    const saved = first.saved()
    expect(saved.healing.agents).toEqual([{ agent_id: 'a-1', restart_count: 2, pid: 102, crashes: [T0, T0], keep_until: null }])

    const within = healingEngine({ settings, saved: structuredClone(saved) })
    await within.join('a-1', { restartCount: 2, pid: 102 }) // the same process: no crash
    expect(within.fleet.get('a-1')!.quarantined).toBe(false)
    await within.restarted('a-1')
    expect(within.fleet.get('a-1')!.quarantined).toBe(true)

    const laterClock = { t: T0 + 600 * S, now: () => laterClock.t }
    const later = healingEngine({ settings, saved: structuredClone(saved), clock: laterClock })
    await later.join('a-1', { restartCount: 3, pid: 103 })
    expect(later.fleet.get('a-1')!.quarantined).toBe(false)
    expect(later.local.savedWatch('a-1')).toMatchObject({ restart_count: 3, crashes: [T0 + 600 * S] })
  })
})
