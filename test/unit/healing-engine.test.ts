/**
 * One hub's healing engine (the decider over the MemoryHealingStore, judged by HealingPolicy's
 * rules) on a test clock, over the real Fleet: every rule (crash loop, memory, task overdue) and
 * every limit of the budget (concurrency, rollout, cooldown, per-agent limit and escalation,
 * pause), and the state of an action following its restart. The task overdue rule and the
 * history: healing-overdue.test.ts.
 * The same rules over PostgreSQL: test/pg/cluster-healing*.test.ts; both stores through the
 * API: test/behaviour/healing.test.ts.
 */
import { describe, expect, it, vi } from 'vitest'
import { healingEngine, S, T0, type Engine } from '../../support/healing-engine.ts'

const memoryDetail = 'rss 600 MB above 512 MB in two stats reports in a row'

/** A memory restart decided, commanded and obeyed now. */
async function healByMemory(e: Engine, agentId: string): Promise<void> {
  await e.overTwice(agentId)
  await e.obey(agentId)
}

describe('the view', () => {
  it('shows the policy in force', async () => {
    const e = healingEngine({ settings: { maxMemoryMb: 512 } })
    expect(await e.healing.view()).toEqual({
      paused: false,
      policy: { crash_limit: 3, window_s: 600, max_memory_mb: 512, max_concurrent: 1, cooldown_s: 300, max_per_agent: 3 },
      actions: [],
    })
  })
})

describe('crash loop', () => {
  it('quarantines at exactly the crash limit, not before, and alerts once', async () => {
    const e = healingEngine()
    await e.join('a')
    await e.restarted('a')
    e.advance(10)
    await e.restarted('a')
    expect(e.fleet.get('a')!.quarantined).toBe(false)
    e.advance(10)
    await e.restarted('a')
    const [action] = await e.actions()
    expect(action).toEqual({
      action_id: expect.any(String), agent_id: 'a', rule: 'crash_loop', action: 'quarantine', detail: '3 unplanned restarts within 600 s',
      restart_id: null, state: 'quarantined', at: T0 + 20 * S, updated_at: T0 + 20 * S,
    })
    expect(e.alerts).toEqual([{ type: 'agent_quarantined', agent_id: 'a', rule: 'crash_loop', detail: '3 unplanned restarts within 600 s', at: T0 + 20 * S }])
    expect(e.fleet.get('a')).toMatchObject({ quarantined: true, drained: true })
    expect(e.fleet.isAvailable('a')).toBe(false)
  })

  it('counts a new pid or a higher restart count, not a reconnect of the same process nor a commanded restart', async () => {
    const e = healingEngine({ settings: { crashLimit: 1 } })
    await e.join('a')
    await e.reconnect('a')
    expect(e.fleet.commandRestart('a', { reason: 'operator', mode: 'force', deadline_s: null }).ok).toBe(true)
    await e.restarted('a')
    expect(e.fleet.get('a')!.quarantined).toBe(false)
    // pm2 reset: the count went down, but the pid is new.
    await e.join('a', { restartCount: 0, pid: 5000 })
    expect(e.fleet.get('a')!.quarantined).toBe(true)
  })

  it('counts pm2 restarts the hub never saw identify', async () => {
    const e = healingEngine()
    await e.join('a')
    await e.restarted('a', 2)
    expect(e.fleet.get('a')!.quarantined).toBe(false)
    await e.restarted('a')
    expect(e.fleet.get('a')!.quarantined).toBe(true)
  })

  it('forgets crashes a full window old', async () => {
    const e = healingEngine()
    await e.join('a')
    await e.restarted('a')
    e.advance(1)
    await e.restarted('a')
    e.advance(599)
    // The first crash is now 600 s old: two remain in the window.
    await e.restarted('a')
    e.advance(1)
    // The second is 600 s old too; the third, and this one, make two.
    await e.restarted('a')
    expect(e.fleet.get('a')!.quarantined).toBe(false)
    await e.restarted('a')
    expect(e.fleet.get('a')!.quarantined).toBe(true)
  })

  it('leaves a quarantined agent alone until it is resumed, then counts from zero', async () => {
    const e = healingEngine({ settings: { crashLimit: 2, maxMemoryMb: 512, cooldownS: 0 } })
    await e.join('a')
    await e.restarted('a')
    await e.restarted('a')
    await e.restarted('a')
    await e.overTwice('a')
    await e.overdue('a', 'task t-1')
    expect((await e.actions()).map((a) => a.action)).toEqual(['quarantine'])
    expect(e.restart('a')).toBeNull()

    e.healing.resumeAgent('a')
    await e.settle()
    // The overdue restart that waited out the quarantine goes at once.
    expect((await e.actions()).map((a) => [a.action, a.rule, a.state])).toEqual([['restart', 'task_overdue', 'commanded'], ['quarantine', 'crash_loop', 'lifted']])
    expect(e.restart('a')).toMatchObject({ reason: 'task_overdue', mode: 'force' })
    await e.obey('a')
    await e.restarted('a')
    expect(e.fleet.get('a')!.quarantined).toBe(false)
    await e.restarted('a')
    expect(e.fleet.get('a')!.quarantined).toBe(true)
  })

  it('does not quarantine while healing is paused, but the crashes count', async () => {
    const e = healingEngine()
    await e.join('a')
    await e.healing.pause()
    for (let i = 0; i < 3; i++) await e.restarted('a')
    expect(e.fleet.get('a')!.quarantined).toBe(false)
    await e.healing.resume()
    await e.restarted('a')
    expect(e.fleet.get('a')!.quarantined).toBe(true)
  })
})

describe('memory', () => {
  it('is off without a limit', async () => {
    const e = healingEngine()
    await e.join('a')
    for (let i = 0; i < 5; i++) await e.report('a', 64 * 1024)
    expect(await e.actions()).toEqual([])
  })

  it('restarts gracefully after two reports in a row above the limit', async () => {
    const e = healingEngine({ settings: { maxMemoryMb: 512 } })
    await e.join('a')
    await e.report('a', 513)
    expect(e.restart('a')).toBeNull()
    await e.report('a', 700)
    expect(e.restart('a')).toMatchObject({ reason: 'heal:memory', mode: 'graceful' })
    expect(await e.actions()).toEqual([expect.objectContaining({
      rule: 'memory', action: 'restart', state: 'commanded', restart_id: e.restart('a')!.restart_id, detail: 'rss 700 MB above 512 MB in two stats reports in a row',
    })])
    expect(e.alerts).toEqual([])
  })

  it('needs the two reports in a row: above, below, above is nothing; at the limit is not above', async () => {
    const e = healingEngine({ settings: { maxMemoryMb: 512 } })
    await e.join('a')
    for (const mb of [600, 100, 600, 512, 600]) await e.report('a', mb)
    expect(e.restart('a')).toBeNull()
    await e.report('a', 600)
    expect(e.restart('a')).toMatchObject({ reason: 'heal:memory' })
  })

  it('never restarts an agent pm2 does not supervise, nor holds it for an overdue task', async () => {
    const e = healingEngine({ settings: { maxMemoryMb: 512 } })
    await e.join('a', { supervised: false })
    await e.overTwice('a')
    await e.overdue('a', 'task t-1')
    expect(await e.actions()).toEqual([])
    expect(e.fleet.isAvailable('a')).toBe(true)
  })
})

describe('budget', () => {
  it('has at most max_concurrent healing restarts in flight in the whole fleet', async () => {
    const e = healingEngine({ settings: { maxMemoryMb: 512 } })
    for (const id of ['a', 'b', 'c']) await e.join(id)
    await e.overTwice('a')
    await e.overTwice('b')
    e.fleet.taskStarted(e.fleet.get('a')!) // a's graceful restart waits for its task: still in flight
    await e.report('b', 600)
    expect([e.restart('a')?.state, e.restart('b')]).toEqual(['deferred', null])
    await e.obey('a')
    await e.report('b', 600) // a refused memory restart is asked again by the next report
    expect(e.restart('b')).toMatchObject({ reason: 'heal:memory' })
    await e.overTwice('c')
    expect(e.restart('c')).toBeNull()
  })

  it('allows max_concurrent of them at once', async () => {
    const e = healingEngine({ settings: { maxMemoryMb: 512, maxConcurrent: 2 } })
    for (const id of ['a', 'b', 'c']) await e.join(id)
    for (const id of ['a', 'b', 'c']) await e.overTwice(id)
    expect(['a', 'b', 'c'].map((id) => e.restart(id) !== null)).toEqual([true, true, false])
  })

  it('starts none while a rollout runs, and a refused memory restart does not wait for it', async () => {
    const e = healingEngine({ settings: { maxMemoryMb: 512 } })
    await e.join('a')
    await e.setRollout(true)
    await e.overTwice('a')
    await e.setRollout(false)
    expect(e.restart('a')).toBeNull()
    await e.report('a', 600)
    expect(e.restart('a')).toMatchObject({ reason: 'heal:memory' })
  })

  it('waits out the cooldown from the end of the agent\'s last healing restart', async () => {
    const e = healingEngine({ settings: { maxMemoryMb: 512 } })
    await e.join('a')
    await e.join('b')
    await e.overTwice('a')
    e.advance(100)
    await e.obey('a')
    e.advance(299)
    await e.overTwice('a')
    expect(e.restart('a')).toBeNull()
    // Another agent has no cooldown of its own.
    await healByMemory(e, 'b')
    e.advance(1)
    await e.report('a', 600)
    expect(e.restart('a')).toMatchObject({ reason: 'heal:memory' })
  })

  it('restarts an agent at most max_per_agent times per window, then escalates once per window', async () => {
    const e = healingEngine({ settings: { maxMemoryMb: 512, cooldownS: 0 } })
    await e.join('a')
    for (let i = 0; i < 3; i++) {
      await healByMemory(e, 'a')
      e.advance(100)
    }
    await e.overTwice('a')
    expect(e.restart('a')).toBeNull()
    expect(e.alerts).toEqual([{
      type: 'heal_escalated', agent_id: 'a', rule: 'memory', at: T0 + 300 * S,
      detail: `3 healing restarts within 600 s; memory wants another: ${memoryDetail}`,
    }])
    expect((await e.actions())[0]).toMatchObject({ action: 'escalate', state: 'alerted' })
    e.advance(250)
    await e.overTwice('a')
    expect([e.restart('a'), e.alerts.length]).toEqual([null, 1])
    // 600 s after the first restart, one of the three leaves the window.
    e.advance(50)
    await e.report('a', 600)
    expect(e.restart('a')).toMatchObject({ reason: 'heal:memory' })
  })

  it('escalates again only once the last escalation is a window old', async () => {
    const e = healingEngine({ settings: { maxMemoryMb: 512, cooldownS: 0, maxPerAgent: 1 } })
    await e.join('a')
    await healByMemory(e, 'a')
    e.advance(10)
    await e.overTwice('a')
    e.advance(590)
    await e.report('a', 600)
    await e.obey('a')
    e.advance(5)
    await e.overTwice('a')
    expect(e.alerts).toHaveLength(1)
    e.advance(5)
    await e.report('a', 600)
    expect(e.alerts.map((a) => [a.type, a.at])).toEqual([['heal_escalated', T0 + 10 * S], ['heal_escalated', T0 + 610 * S]])
    expect((await e.actions()).map((a) => a.action)).toEqual(['escalate', 'restart', 'escalate', 'restart'])
  })

  it('starts no healing action while paused; an overdue restart waits for the resume', async () => {
    const e = healingEngine({ settings: { maxMemoryMb: 512, cooldownS: 0, maxPerAgent: 1 } })
    await e.join('a')
    await e.join('b')
    await healByMemory(e, 'a')
    expect((await e.healing.pause()).paused).toBe(true)
    await e.overTwice('a')
    await e.overTwice('b')
    await e.overdue('b', 'task t-1')
    expect((await e.actions()).map((a) => a.action)).toEqual(['restart'])
    expect(e.fleet.isAvailable('b')).toBe(false)
    expect((await e.healing.resume()).paused).toBe(false)
    await e.settle()
    expect(e.restart('b')).toMatchObject({ reason: 'task_overdue', mode: 'force' })
    await e.report('a', 600)
    expect((await e.actions()).map((a) => [a.action, a.agent_id])).toEqual([['escalate', 'a'], ['restart', 'b'], ['restart', 'a']])
  })
})

describe('restarts and their actions', () => {
  it('follows the restart by restart_id until it is over', async () => {
    const e = healingEngine({ settings: { maxMemoryMb: 512 } })
    await e.join('a')
    await e.overTwice('a')
    const restartId = e.restart('a')!.restart_id
    const state = async () => (await e.actions()).map((a) => [a.restart_id, a.state])
    e.fleet.taskStarted(e.fleet.get('a')!)
    await e.settle()
    expect(await state()).toEqual([[restartId, 'deferred']])
    e.fleet.agentRestarting(e.fleet.get('a')!, restartId)
    await e.settle()
    expect(await state()).toEqual([[restartId, 'restarting']])
    await e.obey('a')
    expect(await state()).toEqual([[restartId, 'completed']])
  })

  it('alerts heal_failed when a healing restart fails, and the cooldown still applies', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      const e = healingEngine({ settings: { maxMemoryMb: 512 } })
      await e.join('a')
      await e.overTwice('a')
      e.advance(60)
      vi.advanceTimersByTime(60 * S) // the sidecar neither restarted nor deferred in time
      await e.settle()
      const detail = `${memoryDetail}; restart failed: no_response`
      expect(e.alerts).toEqual([{ type: 'heal_failed', agent_id: 'a', rule: 'memory', detail, at: T0 + 60 * S }])
      expect((await e.actions()).map((a) => [a.state, a.detail])).toEqual([['failed', detail]])
      await e.overTwice('a')
      expect(e.restart('a')).toBeNull()
    } finally {
      vi.useRealTimers()
    }
  })

  it('commands no restart of an agent offline: its overdue restart waits for it, and takes nothing from the budget', async () => {
    const e = healingEngine({ settings: { maxPerAgent: 1 } })
    await e.join('a')
    await e.disconnect('a')
    await e.overdue('a', 'task t-1')
    expect(await e.actions()).toEqual([])
    await e.reconnect('a') // the same process: the restart it is owed goes now
    expect(e.restart('a')).toMatchObject({ reason: 'task_overdue' })
    expect((await e.actions()).map((a) => a.action)).toEqual(['restart'])
  })
})
