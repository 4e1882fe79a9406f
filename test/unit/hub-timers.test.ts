/**
 * The hub's deadlines on fake timers: assignments not accepted, agents that do not come back
 * with their task, restarts that time out, and dispatch around pending restarts
 * (rollouts and memory bounded by age: hub-timers-rollouts.test.ts).
 */
import { describe, expect, it, vi } from 'vitest'
import type { HubMessage } from '../../shared/protocol.ts'
import { SECOND } from '../../shared/time.ts'
import { flush, hub, join, replaceHub, useTimerHub } from '../../support/timer-hub.ts'

useTimerHub()

describe('task deadlines', () => {
  it('queues an assignment again when it is not accepted in time', async () => {
    const a = join('a-1')
    const task = hub.tasks.create({ n: 1 }, null, undefined).task
    await flush()
    expect(a.assigned()).toEqual([task.task_id])
    expect(task.status).toBe('assigned')
    await vi.advanceTimersByTimeAsync(4_999)
    expect(task.status).toBe('assigned')
    await vi.advanceTimersByTimeAsync(1)
    // Queued again and, the agent being idle again, assigned a second time.
    expect(a.assigned()).toEqual([task.task_id, task.task_id])
    expect(task.attempts).toBe(2)
  })

  it('gives a disconnected agent its grace period, then runs the task elsewhere', async () => {
    const a = join('a-1')
    const task = hub.tasks.create({ n: 1 }, null, undefined).task
    await flush()
    hub.tasks.accepted(a.rec, task.task_id)
    expect(task.status).toBe('working')
    hub.fleet.disconnect(a.rec, a.peer)
    hub.tasks.disconnected(a.rec)
    const b = join('b-1')
    await vi.advanceTimersByTimeAsync(19_999)
    expect(task.status).toBe('working')
    expect(b.assigned()).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    expect(b.assigned()).toEqual([task.task_id])
    // The first agent's late result is acknowledged and ignored: the task completes once.
    hub.tasks.accepted(b.rec, task.task_id)
    const late = join('a-1', 0, task.task_id)
    expect(late.sent).toContainEqual({ type: 'task_cancel', task_id: task.task_id })
    hub.tasks.finished(late.rec, task.task_id, { kind: 'complete', result: 'late' })
    await flush()
    expect(late.sent).toContainEqual({ type: 'task_ack', task_id: task.task_id })
    expect(task.status).toBe('working')
    hub.tasks.finished(b.rec, task.task_id, { kind: 'complete', result: 'b' })
    expect(task).toMatchObject({ status: 'completed', result: 'b', agent_id: 'b-1' })
  })

  it('keeps the task with an agent that comes back within the grace period holding it', async () => {
    const a = join('a-1')
    const task = hub.tasks.create({ n: 1 }, null, undefined).task
    await flush()
    hub.tasks.accepted(a.rec, task.task_id)
    hub.fleet.disconnect(a.rec, a.peer)
    hub.tasks.disconnected(a.rec)
    await vi.advanceTimersByTimeAsync(10_000)
    const back = join('a-1', 0, task.task_id)
    await vi.advanceTimersByTimeAsync(60_000)
    expect(task).toMatchObject({ status: 'working', agent_id: 'a-1', attempts: 1 })
    hub.tasks.finished(back.rec, task.task_id, { kind: 'complete', result: 1 })
    expect(task.status).toBe('completed')
  })

  it('fails a task interrupted too many times', async () => {
    const a = join('a-1')
    const task = hub.tasks.create({ n: 1 }, null, undefined).task
    for (let i = 0; i < 5; i++) {
      await flush()
      hub.tasks.interrupted(a.rec, task.task_id, 'crash')
    }
    expect(task).toMatchObject({ status: 'failed', error: 'interrupted 5 times', attempts: 5 })
  })

  it('does not count a task the sidecar refused before starting it', async () => {
    const a = join('a-1')
    const task = hub.tasks.create({ n: 1 }, null, undefined).task
    for (let i = 0; i < 8; i++) {
      await flush()
      hub.tasks.interrupted(a.rec, task.task_id, 'busy', false)
    }
    await flush()
    expect(task).toMatchObject({ status: 'assigned', attempts: 1 })
  })

  it('frees the agent only once the outcome is acknowledged', async () => {
    const a = join('a-1')
    const first = hub.tasks.create({ n: 1 }, null, undefined).task
    const second = hub.tasks.create({ n: 2 }, null, undefined).task
    await flush()
    hub.tasks.accepted(a.rec, first.task_id)
    hub.tasks.finished(a.rec, first.task_id, { kind: 'complete', result: 1 })
    expect(a.assigned()).toEqual([first.task_id])
    await flush()
    const order = a.sent.map((m) => m.type).filter((t) => t === 'task_ack' || t === 'task_assign')
    expect(order).toEqual(['task_assign', 'task_ack', 'task_assign'])
    expect(a.assigned()).toEqual([first.task_id, second.task_id])
  })

  it('fails a result nested too deeply to store, instead of breaking the task file', async () => {
    const a = join('a-1')
    const task = hub.tasks.create({ n: 1 }, null, undefined).task
    await flush()
    const deep = JSON.parse(`${'['.repeat(20_000)}${']'.repeat(20_000)}`)
    hub.tasks.finished(a.rec, task.task_id, { kind: 'complete', result: deep })
    expect(task).toMatchObject({ status: 'failed', error: 'result cannot be stored: nested too deeply' })
  })
})

describe('a hub killed between saving a task and saving its assignment', () => {
  // The restored table holds the task queued with no attempt; its agent still runs it.
  const restored = (task_id: string) => ({
    task_id, status: 'queued' as const, input: { n: 1 }, pinned: null, agent_id: null, attempts: 0,
    result: null, error: null, timeout_ms: 60_000, created_at: 1, updated_at: 1, assigned_at: null,
  })

  it('sends an assignment only once it is saved, so a restored queued task was never sent', async () => {
    const saves: Array<{ status: string[]; release: () => void }> = []
    const store = {
      load: async () => [],
      save: (tasks: Array<{ status: string }>) => new Promise<void>((release) => saves.push({ status: tasks.map((t) => t.status), release })),
    }
    replaceHub({ taskStore: store })
    const sent: HubMessage[] = []
    hub.fleet.identify('a-1', { send: (m) => sent.push(m), close: () => {} }, { supervised: false, instance_id: 'i', pm2_info: null })
    hub.tasks.identified(hub.fleet.get('a-1')!, null)
    hub.tasks.create({ n: 1 }, null, undefined)
    await flush()
    saves[0].release() // the task itself, queued
    await flush()
    expect(saves.map((s) => s.status)).toEqual([['queued'], ['assigned']])
    expect(sent.filter((m) => m.type === 'task_assign')).toEqual([])
    saves[1].release()
    await flush()
    expect(sent.filter((m) => m.type === 'task_assign')).toHaveLength(1)
  })

  it('runs a restored assignment again at once when its agent comes back without it', async () => {
    hub.tasks.restore([{ ...restored('t-3'), status: 'assigned', agent_id: 'a-1', attempts: 1, assigned_at: 1 }])
    const a = join('a-1', 0, null)
    await flush()
    // Its message died with the old hub: no attempt was made, and it is not held for the grace period.
    expect(a.assigned()).toEqual(['t-3'])
    expect(hub.tasks.get('t-3')).toMatchObject({ status: 'assigned', agent_id: 'a-1', attempts: 1 })
  })

  it('does not let an agent claim at identify a restored queued task it was never given: task_cancel, then a real assignment', async () => {
    hub.tasks.restore([restored('t-1')])
    const a = join('a-1', 0, 't-1')
    await flush()
    expect(a.sent.map((m) => m.type)).toEqual(['task_cancel', 'task_assign'])
    expect(hub.tasks.get('t-1')).toMatchObject({ status: 'assigned', agent_id: 'a-1', attempts: 1 })
  })

  it('ignores a result for a restored queued task that no agent was given (acknowledged, not stored)', async () => {
    hub.tasks.restore([restored('t-2')])
    const a = join('a-1')
    hub.tasks.finished(a.rec, 't-2', { kind: 'complete', result: 7 })
    await flush()
    expect(hub.tasks.get('t-2')).toMatchObject({ status: 'assigned', result: null, attempts: 1 })
  })
})

describe('restart deadlines and dispatch', () => {
  it('fails a restart whose agent does not come back within the timeout', async () => {
    const a = join('a-1')
    const r = hub.fleet.commandRestart('a-1', { reason: 'x', mode: 'graceful', deadline_s: null })
    expect(r.ok).toBe(true)
    hub.fleet.agentRestarting(a.rec, undefined)
    hub.fleet.disconnect(a.rec, a.peer)
    expect(hub.fleet.status(a.rec)).toBe('restarting')
    await vi.advanceTimersByTimeAsync(60 * SECOND)
    expect(a.rec.restart).toMatchObject({ state: 'failed', error: 'timeout' })
  })

  it('completes a restart when the agent comes back with a higher restart_count, and only then dispatches to it', async () => {
    const a = join('a-1', 3)
    hub.fleet.commandRestart('a-1', { reason: 'x', mode: 'graceful', deadline_s: null })
    const pinned = hub.tasks.create({ n: 1 }, 'a-1', undefined).task
    await flush()
    expect(a.assigned()).toEqual([])
    hub.fleet.disconnect(a.rec, a.peer)
    const back = join('a-1', 4)
    await flush()
    expect(back.rec.restart?.state).toBe('completed')
    expect(back.assigned()).toEqual([pinned.task_id])
  })

  it('a graceful restart of a working agent is deferred until the task settles', async () => {
    const a = join('a-1')
    const task = hub.tasks.create({ n: 1 }, null, undefined).task
    await flush()
    hub.tasks.accepted(a.rec, task.task_id)
    hub.fleet.commandRestart('a-1', { reason: 'x', mode: 'graceful', deadline_s: null })
    expect(a.rec.restart?.state).toBe('deferred')
    hub.tasks.finished(a.rec, task.task_id, { kind: 'complete', result: null })
    await flush()
    expect(a.rec.restart?.state).toBe('commanded')
    // Commanded but silent: the sidecar did not obey within the timeout.
    await vi.advanceTimersByTimeAsync(60 * SECOND)
    expect(a.rec.restart).toMatchObject({ state: 'failed', error: 'no_response' })
  })
})

describe('the hub does not wait forever on an agent (task_overdue)', () => {
  it('counts a task not heard back about within timeout_ms + grace interrupted, runs it again, and force-restarts the agent', async () => {
    const a = join('a-1')
    const task = hub.tasks.create({ n: 1 }, null, 10 * SECOND).task
    await flush()
    hub.tasks.accepted(a.rec, task.task_id)
    const b = join('b-1')
    // Accepted, then silence: 10 s timeout + 20 s grace.
    await vi.advanceTimersByTimeAsync(30 * SECOND - 1)
    expect(task).toMatchObject({ status: 'working', agent_id: 'a-1' })
    await vi.advanceTimersByTimeAsync(1)
    expect(a.sent).toContainEqual({ type: 'task_cancel', task_id: task.task_id })
    expect(a.sent).toContainEqual(expect.objectContaining({ type: 'restart_sidecar', reason: 'task_overdue', mode: 'force' }))
    expect(a.rec.restart).toMatchObject({ reason: 'task_overdue', mode: 'force', state: 'commanded' })
    // Run again elsewhere, its first attempt counted.
    expect(b.assigned()).toEqual([task.task_id])
    expect(task).toMatchObject({ status: 'assigned', agent_id: 'b-1', attempts: 2 })
    expect(a.assigned()).toEqual([task.task_id])
  })

  it('leaves alone a task whose outcome came in time', async () => {
    const a = join('a-1')
    const task = hub.tasks.create({ n: 1 }, null, 10 * SECOND).task
    await flush()
    hub.tasks.accepted(a.rec, task.task_id)
    await vi.advanceTimersByTimeAsync(29 * SECOND)
    hub.tasks.finished(a.rec, task.task_id, { kind: 'complete', result: 1 })
    await vi.advanceTimersByTimeAsync(60 * SECOND)
    expect(task).toMatchObject({ status: 'completed', attempts: 1 })
    expect(a.rec.restart).toBeNull()
  })

  it('goes through one hook: createHub\'s onOverdue hears of the agent and the task', async () => {
    const heard: unknown[] = []
    replaceHub({ taskGraceMs: 5 * SECOND, onOverdue: (overdue) => heard.push(overdue) })
    const a = join('a-1')
    const task = hub.tasks.create({ n: 1 }, null, 1000).task
    await flush()
    await vi.advanceTimersByTimeAsync(6 * SECOND)
    expect(heard).toEqual([{ agent_id: 'a-1', task_id: task.task_id, assigned_at: expect.any(Number), waited_ms: 6 * SECOND }])
    // The hook decided: no restart was commanded, and the agent got the task again.
    expect(a.rec.restart).toBeNull()
    expect(task).toMatchObject({ status: 'assigned', attempts: 2 })
  })
})

describe('refusals and results the hub counts', () => {
  it('counts a refusal for storage_unavailable as an attempt, so the task fails instead of bouncing forever', async () => {
    const a = join('a-1')
    const task = hub.tasks.create({ n: 1 }, null, undefined).task
    for (let i = 0; i < 5; i++) {
      await flush()
      hub.tasks.interrupted(a.rec, task.task_id, 'storage_unavailable', false)
    }
    expect(task).toMatchObject({ status: 'failed', error: 'interrupted 5 times', attempts: 5 })
  })

  it('fails a result over 192 KiB of JSON with result_too_large, and takes one of exactly 192 KiB', async () => {
    const a = join('a-1')
    const big = hub.tasks.create({ n: 1 }, null, undefined).task
    await flush()
    hub.tasks.finished(a.rec, big.task_id, { kind: 'complete', result: 'x'.repeat(192 * 1024 - 1) })
    expect(big).toMatchObject({ status: 'failed', error: 'result_too_large', result: null })
    await flush()
    const fits = hub.tasks.create({ n: 2 }, null, undefined).task
    await flush()
    hub.tasks.finished(a.rec, fits.task_id, { kind: 'complete', result: 'x'.repeat(192 * 1024 - 2) })
    expect(fits.status).toBe('completed')
  })
})
