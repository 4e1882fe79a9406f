/**
 * U+0000 and lone UTF-16 surrogates, the same on both stores. A task's input and result are any
 * JSON (CONTRACT.md): kept exactly, such characters included, in every answer, frame and event,
 * on one hub as in a cluster (where they are JSON text in json columns, not jsonb). Other text a
 * request carries (a reason, an id, a label) goes into PostgreSQL's text, which holds neither:
 * a request carrying one there is refused with 400 invalid_request and changes nothing. Any other
 * text, U+FFFD, control characters and surrogate pairs included, is stored as it came. What an
 * agent reports as text (an error, output, its own facts) cannot be refused (the task ran, the
 * process is named so): it keeps U+FFFD instead.
 */
import { describe, expect, it } from 'vitest'
import { signAdminToken } from '../../hub/auth/auth.ts'
import { followEvents } from '../../support/event-follower.ts'
import { CLUSTER_SECRET, pm2Info } from '../../support/cluster-hubs.ts'
import { STORE, useStoreHubs } from '../../support/store-hub.ts'
import { waitFor } from '../../support/wait.ts'

const hubs = useStoreHubs()

const MESSAGE = 'text the hub cannot store: U+0000 or a lone surrogate'

describe(`unstorable text on the ${STORE} store`, () => {
  it('keeps a task input and result holding U+0000 or lone surrogates exactly: answers, the assignment, events, a hub restart', async () => {
    const hub = await hubs.start()
    const events = await followEvents(hub.url, await signAdminToken(CLUSTER_SECRET))
    const taskViews = (taskId: string) => events.events.filter((e) => e.event === 'task' && e.view.task_id === taskId).map((e) => e.view)
    const agent = await hub.agent('worker-1')
    const input = { text: 'a\u0000b', list: ['ok', '\ud800', '\udc00 alone'], nested: { 'k\u0000': 1, 'x\udbff': '\ud83d\ude00' } }
    const created = await hub.api('POST', '/tasks', { input })
    expect(created).toMatchObject({ status: 201, body: { input } })
    const taskId = created.body.task_id
    expect((await agent.next('task_assign')).input).toEqual(input)
    const result = { 'r\u0000': ['\udfff', 'z\u0000'], n: '\u0000' }
    agent.send({ type: 'task_accepted', task_id: taskId })
    agent.send({ type: 'task_complete', task_id: taskId, result })
    expect(await agent.next('task_ack')).toEqual({ type: 'task_ack', task_id: taskId })
    const done = await waitFor(() => hub.api('GET', `/tasks/${taskId}`).then((r) => r.body), (t) => t.status === 'completed', { what: 'completed' })
    expect(done).toMatchObject({ input, result, error: null })
    expect((await hub.api('GET', '/tasks')).body.tasks).toMatchObject([{ task_id: taskId, input, result }])
    const streamed = await waitFor(() => taskViews(taskId), (views) => views.some((t) => t.status === 'completed'), { what: 'the task events' })
    for (const view of streamed) expect(view.input).toEqual(input)
    expect(streamed.find((t) => t.status === 'completed')!.result).toEqual(result)
    await hub.restart()
    expect((await hub.api('GET', `/tasks/${taskId}`)).body).toMatchObject({ input, result })
  })

  it('refuses a task whose other fields hold U+0000 or a lone surrogate, and creates none', async () => {
    const hub = await hubs.start()
    await hub.agent('worker-1')
    const refused: Array<[Record<string, unknown>, string]> = [
      [{ input: 'a\u0000b', labels: ['gpu\u0000'] }, 'labels.0'],
      [{ input: 1, agent_id: 'worker\ud800' }, 'agent_id'],
    ]
    for (const [body, path] of refused) {
      expect(await hub.api('POST', '/tasks', body)).toEqual({ status: 400, body: { error: 'invalid_request', issues: [{ path, message: MESSAGE }] } })
    }
    expect((await hub.api('GET', '/tasks')).body.tasks).toEqual([])
  })

  it('stores any other text exactly: U+FFFD, control characters, a surrogate pair, in values and keys', async () => {
    const hub = await hubs.start()
    const agent = await hub.agent('worker-1')
    const input = { text: '\ufffd \u0001\u001f\u007f \ud83d\ude00 "\\"', '\ud83d\ude00 key\u0001': ['\u2028'] }
    const created = await hub.api('POST', '/tasks', { input })
    expect(created).toMatchObject({ status: 201, body: { input } })
    expect((await agent.next('task_assign')).input).toEqual(input)
    expect((await hub.api('GET', `/tasks/${created.body.task_id}`)).body.input).toEqual(input)
  })

  it('stores an error holding U+0000 or a lone surrogate with U+FFFD, and acknowledges it', async () => {
    const hub = await hubs.start()
    const agent = await hub.agent('worker-1')
    const run = async (outcome: Record<string, unknown>) => {
      const taskId = (await hub.api('POST', '/tasks', { input: 1 })).body.task_id
      await agent.next('task_assign')
      agent.send({ type: 'task_accepted', task_id: taskId })
      agent.send({ task_id: taskId, ...outcome })
      expect(await agent.next('task_ack')).toEqual({ type: 'task_ack', task_id: taskId })
      return waitFor(() => hub.api('GET', `/tasks/${taskId}`).then((r) => r.body), (t) => t.status !== 'working', { what: 'the outcome stored' })
    }
    expect(await run({ type: 'task_failed', error: 'boom\u0000' })).toMatchObject({ status: 'failed', error: 'boom\uFFFD', result: null })
    expect(await run({ type: 'task_failed', error: 'x\ud800y' })).toMatchObject({ status: 'failed', error: 'x\uFFFDy' })
  })

  it('keeps task output holding U+0000 or a lone surrogate with U+FFFD, as a result (the task cannot be asked again)', async () => {
    const hub = await hubs.start()
    const agent = await hub.agent('worker-1')
    const taskId = (await hub.api('POST', '/tasks', { input: 1 })).body.task_id
    await agent.next('task_assign')
    agent.send({ type: 'task_accepted', task_id: taskId })
    agent.send({ type: 'task_output', task_id: taskId, stream: 'stdout', data: 'a\u0000b\n' })
    agent.send({ type: 'task_output', task_id: taskId, stream: 'stderr', data: 'c\ud800\n' })
    agent.send({ type: 'task_complete', task_id: taskId, result: 'done' })
    await agent.next('task_ack')
    const output = await waitFor(() => hub.api('GET', `/tasks/${taskId}/output`), (r) => r.body.output?.length === 2, { what: 'both chunks' })
    expect(output.body.output.map((c: any) => [c.stream, c.data])).toEqual([['stdout', 'a\uFFFDb\n'], ['stderr', 'c\uFFFD\n']])
  })

  it("keeps an agent's own report (identify, pm2_info) holding U+0000 with U+FFFD, and identifies it", async () => {
    const hub = await hubs.start()
    const agent = await hub.agent('worker-1', { pm2_info: { ...pm2Info(0, 100), name: 'app\u0000' } })
    expect((await hub.api('GET', '/agents/worker-1')).body).toMatchObject({ connected: true, pm2_info: { name: 'app\uFFFD' } })
    agent.send({ type: 'pm2_info', pm2_info: { ...pm2Info(0, 100), status: 'online\ud800' } })
    await waitFor(() => hub.api('GET', '/agents/worker-1'), (r) => r.body.pm2_info.status === 'online\uFFFD', { what: 'the new pm2 status' })
  })

  it('refuses a restart or a rollout whose reason holds U+0000, and commands nothing', async () => {
    const hub = await hubs.start()
    const agent = await hub.agent('worker-1')
    expect(await hub.api('POST', '/agents/worker-1/restart', { reason: 'r\u0000' }))
      .toEqual({ status: 400, body: { error: 'invalid_request', issues: [{ path: 'reason', message: MESSAGE }] } })
    expect(await hub.api('POST', '/rollouts', { reason: 'r\ud800', agent_ids: ['worker-1'] }))
      .toEqual({ status: 400, body: { error: 'invalid_request', issues: [{ path: 'reason', message: MESSAGE }] } })
    await expect(agent.next('restart_sidecar', 300)).rejects.toThrow(/no restart_sidecar/)
    expect((await hub.api('GET', '/agents/worker-1')).body.restart).toBeNull()
  })

  it('refuses an id holding U+0000 in the path', async () => {
    const hub = await hubs.start()
    for (const path of ['/tasks/x%00y', '/rollouts/x%00y', '/tasks/x%00y/output']) {
      expect(await hub.api('GET', path)).toEqual({ status: 400, body: { error: 'invalid_request', issues: [{ path: expect.any(String), message: MESSAGE }] } })
    }
  })
})
