/**
 * Tasks, the same on both stores (run once per store, see support/store-hub.ts): dispatch,
 * attempts and refusals by reason, the result limit and the overdue backstop, against a hub
 * driven through its API and agents that speak the protocol by hand.
 */
import { describe, expect, it } from 'vitest'
import { MAX_RESULT_BYTES, RESULT_TOO_LARGE, STORAGE_UNAVAILABLE } from '../../shared/protocol.ts'
import { STORE, useStoreHubs, type StoreHub } from '../../support/store-hub.ts'
import type { TestSocket } from '../../support/ws-client.ts'
import { waitFor } from '../../support/wait.ts'

const hubs = useStoreHubs()

async function createTask(hub: StoreHub, body: Record<string, unknown>): Promise<string> {
  const res = await hub.api('POST', '/tasks', body)
  expect(res.status).toBe(201)
  return res.body.task_id
}

const task = async (hub: StoreHub, taskId: string) => (await hub.api('GET', `/tasks/${taskId}`)).body

function settled(hub: StoreHub, taskId: string, what: string) {
  return waitFor(() => task(hub, taskId), (t) => t.status === 'completed' || t.status === 'failed', { what, timeoutMs: 15_000 })
}

/**
 * The agent refuses each assignment of `taskId` it gets, up to `times` times or until the
 * task has failed (the hub acknowledges a refusal after the task was requeued or failed).
 */
async function refuse(hub: StoreHub, agent: TestSocket, taskId: string, times: number, frame: Record<string, unknown>): Promise<number> {
  for (let refused = 0; refused < times;) {
    const assign = await agent.next('task_assign', 5000)
    expect(assign.task_id).toBe(taskId)
    agent.send({ type: 'task_interrupted', task_id: taskId, ...frame })
    await agent.next('task_ack')
    refused++
    if ((await task(hub, taskId)).status === 'failed') return refused
  }
  return times
}

describe(`tasks on the ${STORE} store`, () => {
  it('dispatches a task to a free agent, stores its result once and acknowledges it', async () => {
    const hub = await hubs.start()
    const agent = await hub.agent('worker-1')
    const taskId = await createTask(hub, { input: { n: 1 } })
    const assign = await agent.next('task_assign')
    expect(assign).toMatchObject({ task_id: taskId, input: { n: 1 } })
    agent.send({ type: 'task_accepted', task_id: taskId })
    await waitFor(() => task(hub, taskId), (t) => t.status === 'working', { what: 'working' })
    agent.send({ type: 'task_complete', task_id: taskId, result: { ok: true } })
    expect(await agent.next('task_ack')).toEqual({ type: 'task_ack', task_id: taskId })
    expect(await task(hub, taskId)).toMatchObject({ status: 'completed', result: { ok: true }, attempts: 1, agent_id: 'worker-1' })
    // A late resend of the same outcome is acknowledged and changes nothing.
    agent.send({ type: 'task_failed', task_id: taskId, error: 'late' })
    await agent.next('task_ack')
    expect(await task(hub, taskId)).toMatchObject({ status: 'completed', result: { ok: true } })
  })

  it('keeps a pinned task for its agent', async () => {
    const hub = await hubs.start()
    const other = await hub.agent('worker-other')
    const taskId = await createTask(hub, { input: 1, agent_id: 'worker-pinned' })
    const pinned = await hub.agent('worker-pinned')
    expect((await pinned.next('task_assign')).task_id).toBe(taskId)
    await expect(other.next('task_assign', 300)).rejects.toThrow(/no task_assign/)
  })

  it(`fails a result over ${MAX_RESULT_BYTES / 1024} KiB with ${RESULT_TOO_LARGE}`, async () => {
    const hub = await hubs.start()
    const agent = await hub.agent('worker-1')
    const taskId = await createTask(hub, { input: null })
    await agent.next('task_assign')
    agent.send({ type: 'task_accepted', task_id: taskId })
    agent.send({ type: 'task_complete', task_id: taskId, result: 'x'.repeat(200 * 1024) })
    await agent.next('task_ack')
    expect(await settled(hub, taskId, 'the task to end')).toMatchObject({ status: 'failed', error: RESULT_TOO_LARGE, result: null })
  })

  it(`counts a refusal with ${STORAGE_UNAVAILABLE} as an attempt: refused 5 times, the task fails`, async () => {
    const hub = await hubs.start()
    const agent = await hub.agent('worker-1')
    const taskId = await createTask(hub, { input: null })
    const refused = await refuse(hub, agent, taskId, 10, { reason: STORAGE_UNAVAILABLE, started: false })
    expect(await settled(hub, taskId, 'the task to fail')).toMatchObject({ status: 'failed', attempts: 5, error: 'interrupted 5 times' })
    expect(refused).toBe(5)
  })

  it('does not count a refusal before start for any other reason', async () => {
    const hub = await hubs.start()
    const agent = await hub.agent('worker-1')
    const taskId = await createTask(hub, { input: null })
    expect(await refuse(hub, agent, taskId, 7, { reason: 'busy', started: false })).toBe(7)
    await agent.next('task_assign')
    agent.send({ type: 'task_accepted', task_id: taskId })
    agent.send({ type: 'task_complete', task_id: taskId, result: 'done' })
    await agent.next('task_ack')
    expect(await task(hub, taskId)).toMatchObject({ status: 'completed', attempts: 1 })
  })

  it('counts an interruption after start: interrupted 5 times, the task fails', async () => {
    const hub = await hubs.start()
    const agent = await hub.agent('worker-1')
    const taskId = await createTask(hub, { input: null })
    expect(await refuse(hub, agent, taskId, 10, { reason: 'force restart' })).toBe(5)
    expect(await settled(hub, taskId, 'the task to fail')).toMatchObject({ status: 'failed', attempts: 5, error: 'interrupted 5 times' })
  })

  it('runs a task again whose agent never reports it past timeout + grace; healing force-restarts the agent', async () => {
    const hub = await hubs.start({ hub: { taskGraceMs: 200 } })
    const agent = await hub.agent('worker-1')
    const taskId = await createTask(hub, { input: null, timeout_ms: 300 })
    await agent.next('task_assign')
    agent.send({ type: 'task_accepted', task_id: taskId })
    expect(await agent.next('task_cancel', 5000)).toEqual({ type: 'task_cancel', task_id: taskId })
    expect(await agent.next('restart_sidecar', 5000)).toMatchObject({ reason: 'task_overdue', mode: 'force' })
    // Queued again with its attempt counted; not given to the agent its restart waits for.
    expect(await task(hub, taskId)).toMatchObject({ status: 'queued', attempts: 1 })
    const other = await hub.agent('worker-2')
    expect(await other.next('task_assign', 5000)).toMatchObject({ task_id: taskId })
  })

  it('keeps the newest finished tasks up to the bound and forgets older ones (404)', async () => {
    const hub = await hubs.start({ hub: { maxFinishedTasks: 2 } })
    const agent = await hub.agent('worker-1')
    const ids: string[] = []
    for (let n = 0; n < 3; n++) {
      const taskId = await createTask(hub, { input: n })
      await agent.next('task_assign')
      agent.send({ type: 'task_accepted', task_id: taskId })
      agent.send({ type: 'task_complete', task_id: taskId, result: n })
      await agent.next('task_ack')
      ids.push(taskId)
    }
    const forgotten = await waitFor(() => hub.api('GET', `/tasks/${ids[0]}`), (r) => r.status === 404, { what: 'the oldest forgotten' })
    expect(forgotten.body).toEqual({ error: 'task_not_found' })
    for (const [n, taskId] of ids.slice(1).entries()) {
      expect(await task(hub, taskId)).toMatchObject({ status: 'completed', result: n + 1 })
    }
  })

  it('forgets cancelled tasks past the bound as it forgets the other finished ones', async () => {
    const hub = await hubs.start({ hub: { maxFinishedTasks: 2 } })
    const ids: string[] = []
    for (let n = 0; n < 3; n++) {
      const taskId = await createTask(hub, { input: n })
      expect(await hub.api('POST', `/tasks/${taskId}/cancel`)).toMatchObject({ status: 200, body: { status: 'cancelled' } })
      ids.push(taskId)
    }
    await waitFor(() => hub.api('GET', `/tasks/${ids[0]}`), (r) => r.status === 404, { what: 'the oldest cancelled task forgotten' })
    for (const taskId of ids.slice(1)) expect(await task(hub, taskId)).toMatchObject({ status: 'cancelled' })
  })

  it('does not count an assignment the agent never accepted when it comes back without it after a hub restart', async () => {
    // A grace long enough that the agent is back before it runs out (then the task counts: it may have run).
    const hub = await hubs.start({ hub: { taskGraceMs: 30_000 } })
    const first = await hub.agent('worker-1')
    const taskId = await createTask(hub, { input: null })
    expect((await first.next('task_assign')).task_id).toBe(taskId)
    expect(await task(hub, taskId)).toMatchObject({ status: 'assigned', attempts: 1 })

    await hub.restart()

    const back = await hub.agent('worker-1')
    expect((await back.next('task_assign', 5000)).task_id).toBe(taskId)
    expect(await task(hub, taskId)).toMatchObject({ status: 'assigned', agent_id: 'worker-1', attempts: 1 })
    back.send({ type: 'task_accepted', task_id: taskId })
    back.send({ type: 'task_complete', task_id: taskId, result: 1 })
    await back.next('task_ack')
    expect(await task(hub, taskId)).toMatchObject({ status: 'completed', attempts: 1 })
  })

  it('does not count an assignment the agent never accepted when it reconnects without it', async () => {
    const hub = await hubs.start({ hub: { taskGraceMs: 30_000 } })
    const first = await hub.agent('worker-1')
    const taskId = await createTask(hub, { input: null })
    await first.next('task_assign')
    first.close()
    await first.closed
    const back = await hub.agent('worker-1')
    expect((await back.next('task_assign', 5000)).task_id).toBe(taskId)
    expect(await task(hub, taskId)).toMatchObject({ status: 'assigned', attempts: 1 })
  })

  it('counts a task the agent had accepted when it comes back without it after a hub restart', async () => {
    const hub = await hubs.start({ hub: { taskGraceMs: 30_000 } })
    const first = await hub.agent('worker-1')
    const taskId = await createTask(hub, { input: null })
    await first.next('task_assign')
    first.send({ type: 'task_accepted', task_id: taskId })
    await waitFor(() => task(hub, taskId), (t) => t.status === 'working', { what: 'working' })

    await hub.restart()

    const back = await hub.agent('worker-1')
    expect((await back.next('task_assign', 5000)).task_id).toBe(taskId)
    expect(await task(hub, taskId)).toMatchObject({ status: 'assigned', attempts: 2 })
  })

  it('gives an assignment not accepted in time back to the queue', async () => {
    const hub = await hubs.start({ hub: { acceptTimeoutMs: 200 } })
    const agent = await hub.agent('worker-1')
    const taskId = await createTask(hub, { input: null })
    await agent.next('task_assign')
    const again = await agent.next('task_assign', 5000)
    expect(again.task_id).toBe(taskId)
    agent.send({ type: 'task_accepted', task_id: taskId })
    agent.send({ type: 'task_complete', task_id: taskId, result: 1 })
    await agent.next('task_ack')
    expect((await task(hub, taskId)).status).toBe('completed')
  })
})
