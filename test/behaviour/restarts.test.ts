/**
 * Restarts, the same on both stores: graceful, deferred behind a running task, force, the
 * deadline handed to the sidecar, completion on a new process, and the two ways one fails
 * (short restart timeouts instead of long waits).
 */
import { describe, expect, it } from 'vitest'
import { signAdminToken } from '../../hub/auth/auth.ts'
import { CLUSTER_SECRET, pm2Info } from '../../support/cluster-hubs.ts'
import { followEvents } from '../../support/event-follower.ts'
import { STORE, useStoreHubs, type StoreHub } from '../../support/store-hub.ts'
import type { TestSocket } from '../../support/ws-client.ts'
import { waitFor } from '../../support/wait.ts'

const hubs = useStoreHubs()

const agentView = async (hub: StoreHub, agentId: string) => (await hub.api('GET', `/agents/${agentId}`)).body

function restartState(hub: StoreHub, agentId: string, state: string) {
  return waitFor(() => agentView(hub, agentId), (a) => a.restart?.state === state, { what: `restart ${state}`, timeoutMs: 15_000 })
}

/** What a sidecar does for its restart: says so, closes, and comes back as a new pm2 process. */
async function restartAs(hub: StoreHub, agent: TestSocket, agentId: string, restartId: string): Promise<TestSocket> {
  agent.send({ type: 'agent_restarting', reason: 'commanded', restart_id: restartId })
  agent.close()
  await agent.closed
  return hub.agent(agentId, { pm2_info: pm2Info(1, 101) })
}

/** An agent running a task (accepted, no outcome yet). */
async function busyAgent(hub: StoreHub, agentId: string): Promise<{ agent: TestSocket; taskId: string }> {
  const agent = await hub.agent(agentId)
  const created = await hub.api('POST', '/tasks', { input: 'work', agent_id: agentId })
  const { task_id: taskId } = await agent.next('task_assign')
  expect(taskId).toBe(created.body.task_id)
  agent.send({ type: 'task_accepted', task_id: taskId })
  await waitFor(() => hub.api('GET', `/tasks/${taskId}`), (r) => r.body.status === 'working', { what: 'task working' })
  return { agent, taskId }
}

describe(`restarts on the ${STORE} store`, () => {
  it('a graceful restart of an idle agent is sent at once and completes when a new process identifies', async () => {
    const hub = await hubs.start()
    const agent = await hub.agent('a1')
    const res = await hub.api('POST', '/agents/a1/restart', { reason: 'deploy' })
    expect(res).toMatchObject({ status: 200, body: { status: 'restart_commanded', agent_id: 'a1', reason: 'deploy', mode: 'graceful', state: 'commanded', already_pending: false } })
    const frame = await agent.next('restart_sidecar')
    expect(frame).toMatchObject({ reason: 'deploy', mode: 'graceful', restart_id: res.body.restart_id, deadline_s: null })
    // A second command while it is pending is the same restart.
    const again = await hub.api('POST', '/agents/a1/restart', {})
    expect(again.body).toMatchObject({ restart_id: res.body.restart_id, already_pending: true })
    await restartAs(hub, agent, 'a1', frame.restart_id)
    const view = await restartState(hub, 'a1', 'completed')
    expect(view.restart).toMatchObject({ restart_id: res.body.restart_id, reason: 'deploy', error: null })
  })

  it('a graceful restart waits behind a running task (deferred), then goes ahead', async () => {
    const hub = await hubs.start()
    const { agent, taskId } = await busyAgent(hub, 'a1')
    const res = await hub.api('POST', '/agents/a1/restart', { deadline_s: 30 })
    expect(res.body.state).toBe('deferred')
    expect(await agent.next('restart_sidecar')).toMatchObject({ mode: 'graceful', deadline_s: 30 })
    agent.send({ type: 'task_complete', task_id: taskId, result: 'ok' })
    await agent.next('task_ack')
    await restartState(hub, 'a1', 'commanded')
    await restartAs(hub, agent, 'a1', res.body.restart_id)
    await restartState(hub, 'a1', 'completed')
    expect((await hub.api('GET', `/tasks/${taskId}`)).body).toMatchObject({ status: 'completed', attempts: 1 })
  })

  it('a force restart does not wait: the task it cuts short runs again, its attempt counted', async () => {
    const hub = await hubs.start()
    const { agent, taskId } = await busyAgent(hub, 'a1')
    const res = await hub.api('POST', '/agents/a1/restart', { mode: 'force' })
    expect(res.body).toMatchObject({ mode: 'force', state: 'commanded' })
    expect(await agent.next('restart_sidecar')).toMatchObject({ mode: 'force' })
    agent.send({ type: 'task_interrupted', task_id: taskId, reason: 'force restart' })
    await agent.next('task_ack')
    const back = await restartAs(hub, agent, 'a1', res.body.restart_id)
    await restartState(hub, 'a1', 'completed')
    expect((await back.next('task_assign')).task_id).toBe(taskId)
    expect((await hub.api('GET', `/tasks/${taskId}`)).body.attempts).toBe(2)
  })

  it('a restart fails with timeout when the agent does not come back in time, on the events stream too', async () => {
    const hub = await hubs.start({ hub: { restartTimeoutMs: 300 } })
    const stream = await followEvents(hub.url, await signAdminToken(CLUSTER_SECRET))
    const agent = await hub.agent('a1')
    const res = await hub.api('POST', '/agents/a1/restart', {})
    await agent.next('restart_sidecar')
    agent.send({ type: 'agent_restarting', reason: 'commanded', restart_id: res.body.restart_id })
    agent.close()
    const view = await restartState(hub, 'a1', 'failed')
    expect(view.restart.error).toBe('timeout')
    await stream.untilEvent('agent', (a) => a.agent_id === 'a1' && a.restart?.state === 'failed' && a.restart.error === 'timeout', { timeoutMs: 5000 })
  })

  it('a restart fails with no_response when the sidecar neither restarts nor defers', async () => {
    const hub = await hubs.start({ hub: { restartTimeoutMs: 300 } })
    const agent = await hub.agent('a1')
    await hub.api('POST', '/agents/a1/restart', {})
    await agent.next('restart_sidecar')
    const view = await restartState(hub, 'a1', 'failed')
    expect(view.restart.error).toBe('no_response')
    // Failed, the agent is free again.
    const created = await hub.api('POST', '/tasks', { input: 1 })
    expect((await agent.next('task_assign')).task_id).toBe(created.body.task_id)
  })

  it('refuses a restart of an agent not connected (404) or not under pm2 (409)', async () => {
    const hub = await hubs.start()
    expect(await hub.api('POST', '/agents/nobody/restart', {})).toEqual({ status: 404, body: { error: 'agent_not_connected' } })
    await hub.agent('loose', { pm2_info: null, supervised: false })
    expect(await hub.api('POST', '/agents/loose/restart', {})).toEqual({ status: 409, body: { error: 'not_supervised' } })
    expect(await hub.api('POST', '/agents/loose/restart', { mode: 'gentle' })).toMatchObject({ status: 400, body: { error: 'invalid_request' } })
  })
})
