/**
 * A task taken back from its agent on one hub's fast path, over the memory store
 * (support/memory-task-engine.ts): cancel, queued or in flight, and the deadlines the sweep keeps
 * (hub/tasks/immediate-sweep.ts) on fake timers: a task never reported past timeout + grace, a
 * retry's delay, an agent gone past the grace. Dispatch, outcomes, saves and identify:
 * task-engine-memory.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { startImmediateSweep, sweepIntervalMs } from '../../hub/tasks/immediate-sweep.ts'
import { TASK_EXTRAS_DEFAULTS } from '../../hub/tasks/rules.ts'
import { silentLogger } from '../../shared/log.ts'
import { overdueDetail } from '../../hub/tasks/overdue.ts'
import { assignedUnsaved, closers, startHub, useMemoryTaskEngine } from '../../support/memory-task-engine.ts'

useMemoryTaskEngine()

describe('one hub\'s cancel on the fast path', () => {
  it('cancels a queued task at once: given to no one', async () => {
    const hub = startHub(true)
    const taskId = await hub.create(null)
    expect(hub.tasks.cancel(taskId)).toMatchObject({ ok: true, task: { task_id: taskId, status: 'cancelled' } })
    const a = hub.agent('a')
    const next = await hub.create(2)
    expect((await a.next('task_assign')).task_id).toBe(next)
    expect(a.sent('task_assign')).toBe(1)
  })

  it('tells the agent of a task in flight to stop it; its report then is acknowledged, changes nothing and frees the agent', async () => {
    const hub = startHub(true)
    const a = hub.agent('a')
    const taskId = await hub.create(null)
    await a.next('task_assign')
    hub.tasks.accepted(a.rec, taskId)
    expect(hub.tasks.cancel(taskId)).toMatchObject({ ok: true, task: { status: 'cancelled', agent_id: 'a' } })
    expect(await a.next('task_cancel')).toEqual({ type: 'task_cancel', task_id: taskId, reason: 'cancelled' })
    // Busy until the sidecar reports the stopped task: no next task beside one still dying.
    const next = await hub.create(2)
    await hub.store.durable()
    expect(a.sent('task_assign')).toBe(1)
    hub.tasks.finished(a.rec, taskId, { kind: 'failed', error: 'killed' })
    expect(await a.next('task_ack')).toEqual({ type: 'task_ack', task_id: taskId })
    expect(hub.store.peek(taskId)).toMatchObject({ status: 'cancelled', error: null })
    expect((await a.next('task_assign')).task_id).toBe(next)
  })

  it('frees the agent at once, sending it nothing, when its task is cancelled before the assignment was saved', async () => {
    const { saves, hub, a, taskId } = await assignedUnsaved()
    expect(hub.tasks.cancel(taskId)).toMatchObject({ ok: true })
    expect(a.rec.task_id).toBe(taskId)
    await saves.release()
    expect(a.rec.task_id).toBeNull()
    expect(a.sent('task_assign')).toBe(0)
  })

  it('answers task_not_found and task_finished, changing nothing', async () => {
    const hub = startHub(true)
    const a = hub.agent('a')
    const taskId = await hub.create(null)
    await a.next('task_assign')
    hub.tasks.finished(a.rec, taskId, { kind: 'complete', result: 1 })
    await a.next('task_ack')
    expect(hub.tasks.cancel('nope')).toEqual({ ok: false, error: 'task_not_found' })
    expect(hub.tasks.cancel(taskId)).toEqual({ ok: false, error: 'task_finished' })
    expect(hub.store.peek(taskId)?.status).toBe('completed')
    expect(a.sent('task_cancel')).toBe(0)
  })
})

describe('one hub\'s task deadlines on the fast path (immediate-sweep.ts)', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] }))
  afterEach(() => vi.useRealTimers())

  function sweptHub(graceMs: number) {
    const overdue: string[] = []
    const hub = startHub(true, null, 60_000, (o) => overdue.push(`${o.agent_id}: ${overdueDetail(o)}`))
    const sweep = startImmediateSweep({ tasks: hub.tasks, fleet: hub.fleet, log: silentLogger, graceMs, intervalMs: sweepIntervalMs(graceMs) })
    closers.push(() => sweep.stop())
    return { ...hub, overdue }
  }

  it('runs a task again whose agent never reports it past timeout + grace: the agent told to drop it, healing told', async () => {
    const hub = sweptHub(200)
    const a = hub.agent('a')
    const taskId = await hub.create(null, 300)
    await vi.advanceTimersByTimeAsync(0)
    expect(a.frames).toContainEqual(expect.objectContaining({ type: 'task_assign', task_id: taskId }))
    hub.tasks.accepted(a.rec, taskId)
    await vi.advanceTimersByTimeAsync(450)
    expect(hub.store.peek(taskId)?.status).toBe('working')
    expect(hub.overdue).toEqual([])
    // Past 300 + 200 ms, within one interval (50 ms).
    await vi.advanceTimersByTimeAsync(110)
    expect(hub.overdue).toEqual([`a: task ${taskId} not heard of in 1 s`])
    expect(a.frames).toContainEqual({ type: 'task_cancel', task_id: taskId })
    // Queued again with its attempt counted, and given again (no healing here to hold the agent back).
    await vi.advanceTimersByTimeAsync(0)
    expect(hub.store.peek(taskId)).toMatchObject({ status: 'assigned', attempts: 2, agent_id: 'a' })
    expect(a.sent('task_assign')).toBe(2)
  })

  it('dispatches a retry once its delay is over by the store\'s clock, waiting out a timer that fired early', async () => {
    let now = 1_000_000
    const hub = startHub(true, null, 60_000, undefined, () => now)
    const a = hub.agent('a')
    const taskId = (await hub.store.insert({ task_id: 'r1', input: null, pinned: null, timeout_ms: 60_000, extras: { ...TASK_EXTRAS_DEFAULTS, retries: 1, retry_delay_ms: 500 } })).task_id
    hub.tasks.nudge()
    await vi.advanceTimersByTimeAsync(0)
    hub.tasks.finished(a.rec, taskId, { kind: 'failed', error: 'run 0' })
    await vi.advanceTimersByTimeAsync(0)
    expect(hub.store.peek(taskId)).toMatchObject({ status: 'queued', run_after: 1_000_500 })
    // The timer fires while the store's clock still reads 2 ms short of the retry's time.
    now += 498
    await vi.advanceTimersByTimeAsync(500)
    expect(a.sent('task_assign')).toBe(1)
    now += 2
    await vi.advanceTimersByTimeAsync(2)
    expect(a.sent('task_assign')).toBe(2)
    expect(hub.store.peek(taskId)).toMatchObject({ status: 'assigned', retried: 1 })
  })

  it('queues again, counted, a task whose agent has been gone past the grace; not one whose agent came back in it', async () => {
    const hub = sweptHub(1000)
    const a = hub.agent('a')
    const b = hub.agent('b')
    const first = await hub.create(null)
    const second = await hub.create(null)
    await vi.advanceTimersByTimeAsync(0)
    expect([hub.store.peek(first)?.agent_id, hub.store.peek(second)?.agent_id]).toEqual(['a', 'b'])
    hub.fleet.disconnect(a.rec, a.peer)
    hub.fleet.disconnect(b.rec, b.peer)
    await vi.advanceTimersByTimeAsync(900)
    // b is back with its task within the grace: it keeps it.
    hub.fleet.identify('b', b.peer, { pm2_info: null, supervised: true, instance_id: null })
    hub.tasks.identified(b.rec, second)
    await vi.advanceTimersByTimeAsync(99)
    expect(hub.store.peek(first)?.status).toBe('assigned')
    // At the grace or past it, within one interval (250 ms).
    await vi.advanceTimersByTimeAsync(260)
    expect(hub.store.peek(first)).toMatchObject({ status: 'queued', attempts: 1, agent_id: null })
    expect(a.rec.task_id).toBeNull()
    expect(hub.store.peek(second)).toMatchObject({ status: 'working', agent_id: 'b' })
    await vi.advanceTimersByTimeAsync(2000)
    expect(hub.store.peek(second)).toMatchObject({ status: 'working', agent_id: 'b' })
  })
})
