/**
 * Text no store can hold exactly, the same on both stores: U+0000 and a lone UTF-16 surrogate
 * (PostgreSQL's text and jsonb refuse both). A request carrying one, in a task's input, a reason
 * or an id, is refused with 400 invalid_request and changes nothing, so whatever a hub accepts
 * reads back exactly as it was sent, on one hub as in a cluster. Any other text, U+FFFD, control
 * characters and surrogate pairs included, is stored and given back as it came. What an agent
 * reports cannot be refused (the task ran, the process is named so): its result, output and own
 * facts keep U+FFFD instead.
 */
import { describe, expect, it } from 'vitest'
import { pm2Info } from '../../support/cluster-hubs.ts'
import { STORE, useStoreHubs } from '../../support/store-hub.ts'
import { waitFor } from '../../support/wait.ts'

const hubs = useStoreHubs()

const MESSAGE = 'text the hub cannot store: U+0000 or a lone surrogate'

describe(`unstorable text on the ${STORE} store`, () => {
  it('refuses a task whose input holds U+0000 or a lone surrogate, and creates none', async () => {
    const hub = await hubs.start()
    const agent = await hub.agent('worker-1')
    const refused: Array<[unknown, string]> = [
      [{ text: 'a\u0000b' }, 'input.text'],
      [['ok', '\ud800'], 'input.1'],
      [{ nested: { 'k\u0000': 1 } }, 'input.nested.k\ufffd'],
      ['\udc00 alone', 'input'],
    ]
    for (const [input, path] of refused) {
      const res = await hub.api('POST', '/tasks', { input })
      expect(res).toEqual({ status: 400, body: { error: 'invalid_request', issues: [{ path, message: MESSAGE }] } })
    }
    expect(await hub.api('POST', '/tasks', { input: 1 })).toMatchObject({ status: 201 })
    await agent.next('task_assign')
    const listed = await hub.api('GET', '/tasks')
    expect(listed.body.tasks.map((t: any) => t.input)).toEqual([1])
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

  it('stores a result or an error holding U+0000 or a lone surrogate with U+FFFD, and acknowledges it', async () => {
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
    expect(await run({ type: 'task_complete', result: { 'k\u0000': 'a\u0000b', s: 'x\ud800y' } }))
      .toMatchObject({ status: 'completed', result: { 'k\uFFFD': 'a\uFFFDb', s: 'x\uFFFDy' }, error: null })
    expect(await run({ type: 'task_failed', error: 'boom\u0000' })).toMatchObject({ status: 'failed', error: 'boom\uFFFD' })
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
