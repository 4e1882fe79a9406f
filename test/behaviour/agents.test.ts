/**
 * Agents and the API's views, the same on both stores: what an agent and a task look like,
 * drain and resume (on the events stream too), and the answers for what does not exist.
 */
import { describe, expect, it } from 'vitest'
import { signAdminToken } from '../../hub/auth/auth.ts'
import { CLUSTER_SECRET } from '../../support/cluster-hubs.ts'
import { followEvents } from '../../support/event-follower.ts'
import { STORE, useStoreHubs } from '../../support/store-hub.ts'
import { waitFor } from '../../support/wait.ts'

const hubs = useStoreHubs()

describe(`agents on the ${STORE} store`, () => {
  it('shows an agent and a task with the same fields', async () => {
    const hub = await hubs.start()
    const agent = await hub.agent('view-1')
    const created = await hub.api('POST', '/tasks', { input: { x: 1 }, timeout_ms: 60_000 })
    expect(created.status).toBe(201)
    // At least contract v1's fields (v3 adds more on both stores).
    expect(Object.keys(created.body)).toEqual(expect.arrayContaining(
      ['agent_id', 'attempts', 'created_at', 'error', 'input', 'result', 'status', 'task_id', 'timeout_ms', 'updated_at']))
    expect(created.body).toMatchObject({ status: 'queued', input: { x: 1 }, attempts: 0, timeout_ms: 60_000, agent_id: null })
    const assign = await agent.next('task_assign')
    expect(assign).toEqual({ type: 'task_assign', task_id: created.body.task_id, input: { x: 1 }, timeout_ms: 60_000 })
    agent.send({ type: 'task_accepted', task_id: assign.task_id })
    const view = await waitFor(() => hub.api('GET', '/agents/view-1'), (r) => r.body.status === 'working', { what: 'working' })
    expect(Object.keys(view.body)).toEqual(expect.arrayContaining([
      'agent_id', 'connected', 'connected_at', 'drained', 'hub_id', 'last_seen', 'pm2_info', 'quarantined',
      'restart', 'stats', 'status', 'supervised', 'task_id',
    ]))
    expect(view.body).toMatchObject({ connected: true, drained: false, quarantined: false, task_id: assign.task_id, restart: null, supervised: true })
    const list = await hub.api('GET', '/agents')
    expect(list.status).toBe(200)
    expect(list.body.agents.map((a: any) => a.agent_id)).toEqual(['view-1'])
  })

  it('drain keeps tasks from an agent until resume', async () => {
    const hub = await hubs.start()
    const agent = await hub.agent('d1')
    expect(await hub.api('POST', '/agents/d1/drain')).toMatchObject({ status: 200, body: { agent_id: 'd1', drained: true } })
    const created = await hub.api('POST', '/tasks', { input: 1 })
    await expect(agent.next('task_assign', 300)).rejects.toThrow(/no task_assign/)
    expect((await hub.api('GET', `/tasks/${created.body.task_id}`)).body.status).toBe('queued')
    expect(await hub.api('POST', '/agents/d1/resume')).toMatchObject({ status: 200, body: { drained: false } })
    expect((await agent.next('task_assign', 5000)).task_id).toBe(created.body.task_id)
  })

  it('shows a drain and a resume of an offline agent on the events stream', async () => {
    const hub = await hubs.start()
    const agent = await hub.agent('o1')
    agent.close()
    await waitFor(() => hub.api('GET', '/agents/o1'), (r) => r.body.connected === false, { what: 'o1 offline' })
    const stream = await followEvents(hub.url, await signAdminToken(CLUSTER_SECRET))
    expect((await hub.api('POST', '/agents/o1/drain')).body).toMatchObject({ drained: true })
    await stream.untilEvent('agent', (a) => a.agent_id === 'o1' && a.drained === true, { timeoutMs: 5000 })
    expect((await hub.api('POST', '/agents/o1/resume')).body).toMatchObject({ drained: false })
    await stream.untilEvent('agent', (a) => a.agent_id === 'o1' && a.drained === false, { timeoutMs: 5000 })
  })

  it('answers 404 for an unknown agent or task, and 400 for a bad task', async () => {
    const hub = await hubs.start()
    expect(await hub.api('GET', '/agents/ghost')).toEqual({ status: 404, body: { error: 'agent_not_found' } })
    expect(await hub.api('POST', '/agents/ghost/drain')).toEqual({ status: 404, body: { error: 'agent_not_found' } })
    expect(await hub.api('GET', '/tasks/nope')).toEqual({ status: 404, body: { error: 'task_not_found' } })
    expect(await hub.api('POST', '/tasks', { timeout_ms: 5 })).toMatchObject({ status: 400, body: { error: 'invalid_request' } })
    expect(await hub.api('POST', '/tasks', { input: 1, timeout_ms: 0 })).toMatchObject({ status: 400, body: { error: 'invalid_request' } })
  })
})
