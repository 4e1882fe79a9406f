/**
 * The cluster's task engine (hub/tasks/task-engine.ts) over one hub's memory store
 * (hub/tasks/memory-task-queue-store.ts), with the seams one hub needs (support/memory-task-engine.ts):
 * the first step of one engine for both modes, the engine needs nothing of PostgreSQL. A task's
 * dispatch and outcome, each case run twice: through the claim loop and the store's awaited
 * operations (as in a cluster), and through the fast path over the store's immediate operations
 * (hub/tasks/immediate-reports.ts), as one hub would; then saves and identify on the fast path
 * (cancel and the deadlines swept on the fast path: task-engine-memory-cancel.test.ts).
 */
import { describe, expect, it } from 'vitest'
import { MAX_RESULT_BYTES, RESULT_TOO_LARGE, STORAGE_UNAVAILABLE } from '../../shared/protocol.ts'
import { waitFor } from '../../support/wait.ts'
import { assignedUnsaved, startHub, useMemoryTaskEngine } from '../../support/memory-task-engine.ts'

useMemoryTaskEngine()

describe.each([['through the claim loop', false], ['through the immediate operations', true]])('the task engine over one hub\'s memory store, %s', (_, immediate) => {
  const oneHub = () => startHub(immediate)

  it('dispatches a task, stores its outcome once and acknowledges it', async () => {
    const hub = oneHub()
    const a = hub.agent('a')
    const taskId = await hub.create({ n: 1 })
    expect(await a.next('task_assign')).toMatchObject({ task_id: taskId, input: { n: 1 } })
    hub.tasks.accepted(a.rec, taskId)
    await waitFor(() => hub.store.get(taskId), (t) => t?.status === 'working', { what: 'working' })
    hub.tasks.finished(a.rec, taskId, { kind: 'complete', result: { ok: true } })
    expect(await a.next('task_ack')).toEqual({ type: 'task_ack', task_id: taskId })
    expect(await hub.store.get(taskId)).toMatchObject({ status: 'completed', result: { ok: true }, attempts: 1, agent_id: 'a' })
    // Free again: the next task goes to it.
    const next = await hub.create(null)
    expect((await a.next('task_assign')).task_id).toBe(next)
  })

  it(`fails a result over the limit with ${RESULT_TOO_LARGE}`, async () => {
    const hub = oneHub()
    const a = hub.agent('a')
    const taskId = await hub.create(null)
    await a.next('task_assign')
    hub.tasks.finished(a.rec, taskId, { kind: 'complete', result: 'x'.repeat(MAX_RESULT_BYTES + 1) })
    await a.next('task_ack')
    expect(await hub.store.get(taskId)).toMatchObject({ status: 'failed', error: RESULT_TOO_LARGE })
  })

  it(`counts refusals with ${STORAGE_UNAVAILABLE}: refused 5 times, the task fails`, async () => {
    const hub = oneHub()
    const a = hub.agent('a')
    const taskId = await hub.create(null)
    for (let refused = 0; refused < 5; refused++) {
      expect((await a.next('task_assign')).task_id).toBe(taskId)
      hub.tasks.interrupted(a.rec, taskId, STORAGE_UNAVAILABLE, false)
      await a.next('task_ack')
    }
    expect(await hub.store.get(taskId)).toMatchObject({ status: 'failed', attempts: 5, error: 'interrupted 5 times' })
  })
})

describe('the task engine\'s fast path over one hub\'s memory store', () => {
  it('sends an assignment and an ack only once their change is saved; a failed save sends neither', async () => {
    const { saves, hub, a, taskId } = await assignedUnsaved()
    expect(a.sent('task_assign')).toBe(0)
    const sent = a.next('task_assign')
    await saves.release()
    expect((await sent).task_id).toBe(taskId)
    hub.tasks.accepted(a.rec, taskId)
    expect(hub.store.peek(taskId)?.status).toBe('working')
    await saves.release()

    saves.failing = true
    hub.tasks.finished(a.rec, taskId, { kind: 'complete', result: 1 })
    expect(hub.store.peek(taskId)?.status).toBe('completed')
    await saves.release()
    expect(a.sent('task_ack')).toBe(0)
    expect(a.rec.task_id).toBe(taskId)
    // The sidecar, unacknowledged, sends it again: acknowledged once saved (the save tried again), the agent freed.
    saves.failing = false
    saves.held = false
    hub.tasks.finished(a.rec, taskId, { kind: 'complete', result: 1 })
    expect(await a.next('task_ack')).toEqual({ type: 'task_ack', task_id: taskId })
    expect(a.rec.task_id).toBeNull()
  })

  it('cancels an accept of a task that is not the agent\'s', async () => {
    const hub = startHub(true)
    const a = hub.agent('a')
    hub.tasks.accepted(a.rec, 'nope')
    expect(await a.next('task_cancel')).toEqual({ type: 'task_cancel', task_id: 'nope' })
  })
})

describe('one hub\'s identify on the fast path', () => {
  it('reconciles in the step it arrives: a queued task the agent was never given is cancelled on it, its report ignored, then given for real', async () => {
    const hub = startHub(true)
    const taskId = await hub.create(null)
    const a = hub.agent('a', taskId)
    expect(a.frames).toEqual([{ type: 'task_cancel', task_id: taskId }])
    hub.tasks.finished(a.rec, taskId, { kind: 'complete', result: 'forged' })
    expect(hub.store.peek(taskId)).toMatchObject({ status: 'queued', result: null })
    expect((await a.next('task_assign')).task_id).toBe(taskId)
    expect(hub.store.peek(taskId)).toMatchObject({ status: 'assigned', agent_id: 'a', attempts: 1 })
  })

  it('keeps the task an agent comes back with, and runs again, uncounted, one only assigned that it no longer has', async () => {
    const hub = startHub(true)
    const a = hub.agent('a')
    const b = hub.agent('b')
    const kept = await hub.create(1)
    const lost = await hub.create(2)
    await a.next('task_assign')
    await b.next('task_assign')
    hub.tasks.accepted(a.rec, kept)
    const again = hub.agent('a', kept)
    expect(again.rec.task_id).toBe(kept)
    expect(hub.store.peek(kept)).toMatchObject({ status: 'working', agent_id: 'a' })
    const bAgain = hub.agent('b')
    expect(hub.store.peek(lost)).toMatchObject({ attempts: 0 })
    expect((await bAgain.next('task_assign')).task_id).toBe(lost)
  })
})
