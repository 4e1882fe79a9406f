/**
 * Healing restarts in the hub over time: a restart that does not come back, one held by the
 * cooldown or the budget, and the hub's task_overdue backstop. Frames go through the real socket
 * layer, the clock is the test's, with fake timers (support/healing-hub.ts). What starts healing
 * (stats, crash loop, memory) and its routes: healing-hub.test.ts.
 */
import { describe, expect, it, vi } from 'vitest'
import { createLogger } from '../../shared/log.ts'
import { api, clock, hub, join, restartFrames, settle, startHub, stats, useHealingHub } from '../../support/healing-hub.ts'

useHealingHub()

describe('restart outcomes and waiting restarts', () => {
  it('a healing restart that does not come back fails and alerts heal_failed', async () => {
    const lines: any[] = []
    startHub({ healing: { maxMemoryMb: 100 }, restartTimeoutMs: 5000, log: createLogger('hub', (line) => lines.push(JSON.parse(line))) })
    const sock = await join('f-1')
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    sock.send(stats(150))
    sock.send(stats(150))
    await settle()
    const restartId = restartFrames(sock)[0].restart_id
    sock.send({ type: 'agent_restarting', reason: 'heal:memory', restart_id: restartId })
    sock.drop() // and never comes back
    vi.advanceTimersByTime(4999)
    await settle()
    expect((await api('GET', '/healing')).body.actions[0].state).toBe('restarting')
    vi.advanceTimersByTime(1)
    await settle()
    const action = (await api('GET', '/healing')).body.actions[0]
    expect(action).toMatchObject({ state: 'failed', restart_id: restartId })
    expect(lines.filter((l) => l.msg === 'healing alert')).toEqual([
      expect.objectContaining({ type: 'heal_failed', agent_id: 'f-1', rule: 'memory', detail: action.detail }),
    ])
  })

  it('an overdue restart held by the cooldown starts when the cooldown ends, with nothing else happening', async () => {
    startHub({ healing: { maxMemoryMb: 100, cooldownS: 10 } })
    const first = await join('w-1')
    first.send(stats(150))
    first.send(stats(150))
    const sock = await join('w-1', { restart_count: 1, pid: 101 }) // the memory restart completed: cooldown starts
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    hub!.healing!.taskOverdue('w-1', 'task t-9 overdue')
    await settle()
    expect(restartFrames(sock)).toEqual([])
    await settle()
    expect(hub!.fleet.isAvailable('w-1')).toBe(false)

    clock.now += 9_999
    vi.advanceTimersByTime(9_999)
    await settle()
    expect(restartFrames(sock)).toEqual([])
    clock.now += 1
    vi.advanceTimersByTime(1)
    await settle()
    expect(restartFrames(sock)).toEqual([expect.objectContaining({ reason: 'task_overdue', mode: 'force' })])
  })
})

describe('task_overdue', () => {
  it('the hub\'s overdue backstop is a healing action: a force restart within the budget', async () => {
    startHub({ taskGraceMs: 1000 })
    const sock = await join('o-1')
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const task = await api('POST', '/tasks', { input: 1, timeout_ms: 2000 })
    expect(sock.sent.map((m) => m.type)).toContain('task_assign') // dispatched on the way to the 201
    sock.send({ type: 'task_accepted', task_id: task.body.task_id })
    // The deadline is on the hub's clock (assigned_at + timeout_ms + grace), reached with it.
    clock.now += 2999
    vi.advanceTimersByTime(2999)
    await settle()
    expect(restartFrames(sock)).toEqual([])
    clock.now += 1
    vi.advanceTimersByTime(1)
    await settle()
    expect(restartFrames(sock)).toEqual([expect.objectContaining({ reason: 'task_overdue', mode: 'force' })])
    await settle()
    expect((await api('GET', '/healing')).body.actions).toEqual([expect.objectContaining({
      agent_id: 'o-1', rule: 'task_overdue', action: 'restart', state: 'commanded',
      restart_id: restartFrames(sock)[0].restart_id, detail: `task ${task.body.task_id} not heard of in 3 s`,
    })])
  })


  it('waits for the budget, holding the agent out of dispatch meanwhile', async () => {
    startHub({ healing: { maxMemoryMb: 100 } })
    const a = await join('o-1')
    const b = await join('o-2')
    for (const s of [a, a]) s.send(stats(150)) // o-1's memory restart takes the one slot
    await settle()
    expect(restartFrames(a)).toHaveLength(1)

    hub!.healing!.taskOverdue('o-2', 'task t-1 overdue')
    await settle()
    expect(restartFrames(b)).toEqual([])
    await settle()
    expect(hub!.fleet.isAvailable('o-2')).toBe(false)
    await api('POST', '/tasks', { input: 1 })
    await Promise.resolve()
    expect(b.sent.filter((m) => m.type === 'task_assign')).toEqual([])

    await join('o-1', { restart_count: 1, pid: 101 }) // the slot frees: the overdue restart starts
    await settle()
    expect(restartFrames(b)).toEqual([expect.objectContaining({ reason: 'task_overdue', mode: 'force' })])
    const actions = (await api('GET', '/healing')).body.actions
    expect(actions[0]).toMatchObject({ agent_id: 'o-2', rule: 'task_overdue', action: 'restart', state: 'commanded', detail: 'task t-1 overdue' })
  })
})
