/**
 * One hub's healing engine on a test clock, over the real Fleet (as healing-engine.test.ts):
 * the task overdue rule against every limit of the budget (slots held from tasks, rollout,
 * cooldown, per-agent limit and escalation, the agent coming back), and the history's bound and
 * order. The same rules over PostgreSQL: test/pg/cluster-healing*.test.ts.
 */
import { describe, expect, it, vi } from 'vitest'
import { healingEngine, S, T0 } from '../../support/healing-engine.ts'

describe('task overdue', () => {
  it('force-restarts the agent at once when the budget allows', async () => {
    const e = healingEngine()
    await e.join('a')
    await e.overdue('a', 'task t-1 not heard of in 90 s')
    expect(e.restart('a')).toMatchObject({ reason: 'task_overdue', mode: 'force' })
    expect(await e.actions()).toEqual([expect.objectContaining({ rule: 'task_overdue', action: 'restart', detail: 'task t-1 not heard of in 90 s' })])
  })

  it('waits for a free slot, held from tasks, then goes before any memory restart', async () => {
    const e = healingEngine({ settings: { maxMemoryMb: 512 } })
    for (const id of ['a', 'b', 'c']) await e.join(id)
    await e.overTwice('a')
    await e.overdue('b', 'task t-1')
    expect([e.restart('b'), e.fleet.isAvailable('b')]).toEqual([null, false])
    await e.overTwice('c')
    await e.obey('a')
    expect(e.restart('b')).toMatchObject({ reason: 'task_overdue' })
    await e.report('c', 600)
    expect(e.restart('c')).toBeNull()
  })

  it('waits out a rollout', async () => {
    const e = healingEngine()
    await e.join('a')
    await e.setRollout(true)
    await e.overdue('a', 'task t-1')
    expect(e.restart('a')).toBeNull()
    await e.setRollout(false)
    expect(e.restart('a')).toMatchObject({ reason: 'task_overdue' })
  })

  it('waits out the cooldown, and starts when it ends with nothing else happening', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      const e = healingEngine()
      await e.join('a')
      await e.overdue('a', 'task t-1')
      await e.obey('a')
      e.advance(10)
      await e.overdue('a', 'task t-2')
      e.advance(289)
      vi.advanceTimersByTime(289 * S)
      await e.settle()
      expect(e.restart('a')).toBeNull()
      e.advance(1)
      vi.advanceTimersByTime(S)
      await e.settle()
      expect(e.restart('a')).toMatchObject({ reason: 'task_overdue' })
    } finally {
      vi.useRealTimers()
    }
  })

  it('past the per-agent limit escalates once, then restarts when the window lets it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      const e = healingEngine({ settings: { cooldownS: 0, maxPerAgent: 1 } })
      await e.join('a')
      await e.overdue('a', 'task t-1')
      await e.obey('a')
      e.advance(60)
      await e.overdue('a', 'task t-2')
      await e.overdue('a', 'task t-3')
      expect(e.alerts).toEqual([expect.objectContaining({ type: 'heal_escalated', rule: 'task_overdue' })])
      e.advance(540)
      vi.advanceTimersByTime(540 * S)
      await e.settle()
      expect(e.restart('a')).toMatchObject({ reason: 'task_overdue' })
      expect((await e.actions())[0]).toMatchObject({ action: 'restart', detail: 'task t-2' })
    } finally {
      vi.useRealTimers()
    }
  })

  it('ends the wait when the agent comes back as a new process', async () => {
    const e = healingEngine()
    await e.join('a')
    await e.healing.pause()
    await e.overdue('a', 'task t-1')
    expect(e.fleet.isAvailable('a')).toBe(false)
    await e.restarted('a')
    expect(e.fleet.isAvailable('a')).toBe(true)
    await e.healing.resume()
    await e.settle()
    expect(await e.actions()).toEqual([])
  })
})

describe('history', () => {
  it('keeps the last 1000 actions, newest first, as copies', async () => {
    const e = healingEngine({ settings: { crashLimit: 1 } })
    for (let i = 0; i < 1005; i++) {
      const id = `a-${i}`
      await e.join(id)
      e.advance(1)
      await e.restarted(id)
    }
    const actions = await e.actions()
    expect(actions).toHaveLength(1000)
    expect(actions[0]).toMatchObject({ agent_id: 'a-1004', at: T0 + 1005 * S })
    expect(actions[999]).toMatchObject({ agent_id: 'a-5' })
    expect(actions.every((a, i) => i === 0 || a.at < actions[i - 1].at)).toBe(true)
    actions[0].state = 'lifted'
    expect((await e.actions())[0].state).toBe('quarantined')
  })
})
