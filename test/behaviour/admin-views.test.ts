/**
 * The admin answers, field for field, the same on both stores: one admin backend (hub/api/admin.ts)
 * over one hub's memory or a cluster's rows, and one view function per kind (hub/api/views.ts).
 * Each answer is checked whole (toEqual), so a field one store adds, drops or shapes otherwise
 * fails the run of that store.
 */
import { describe, expect, it } from 'vitest'
import { pm2Info } from '../../support/cluster-hubs.ts'
import { STORE, useStoreHubs, type StoreHub } from '../../support/store-hub.ts'
import { waitFor } from '../../support/wait.ts'

const hubs = useStoreHubs()
const time = expect.any(Number)
const id = expect.any(String)
const STATS = { rss_bytes: 50_000_000, heap_used_bytes: 10_000_000, event_loop_delay_ms: 2, uptime_ms: 5000 }

/** An Agent as both stores must show it; `over` sets what the test changed. */
function agentAnswer(agentId: string, over: Record<string, unknown> = {}) {
  return {
    agent_id: agentId, connected: true, status: 'idle', connected_at: time, last_seen: time, pm2_info: pm2Info(0, 100),
    version: null, host: null, supervised: true, drained: false, quarantined: false, labels: [], task_id: null,
    stats: null, restart: null, hub_id: expect.stringMatching(/^hub-/), ...over,
  }
}

/** A Task as both stores must show it. */
function taskAnswer(over: Record<string, unknown>) {
  return {
    task_id: id, status: 'queued', input: null, agent_id: null, attempts: 0, result: null, error: null, timeout_ms: 600_000,
    labels: [], retries: 0, retry_delay_ms: 1000, retried: 0, run_after: null, created_at: time, updated_at: time, ...over,
  }
}

const agent = async (hub: StoreHub, agentId: string) => (await hub.api('GET', `/agents/${agentId}`)).body

describe(`admin answers on the ${STORE} store`, () => {
  it('shows an agent whole: host facts, labels, stats, drain, and its restart', async () => {
    const hub = await hubs.start()
    const socket = await hub.agent('v-1', { version: '1.2.3', hostname: 'box', platform: 'linux', arch: 'x64', node_version: 'v20.1.0', labels: ['gpu', 'eu'] })
    const facts = { version: '1.2.3', host: { hostname: 'box', platform: 'linux', arch: 'x64', node_version: 'v20.1.0' }, labels: ['gpu', 'eu'] }
    expect(await hub.api('GET', '/agents/v-1')).toEqual({ status: 200, body: agentAnswer('v-1', facts) })
    socket.send({ type: 'stats', ...STATS })
    const reported = await waitFor(() => agent(hub, 'v-1'), (a) => a.stats !== null, { what: 'stats shown' })
    const stats = { ...STATS, at: time }
    expect(reported).toEqual(agentAnswer('v-1', { ...facts, stats }))

    const drained = await hub.api('POST', '/agents/v-1/drain')
    expect(drained).toEqual({ status: 200, body: agentAnswer('v-1', { ...facts, stats, drained: true }) })
    const commanded = await hub.api('POST', '/agents/v-1/restart', { reason: 'upgrade', mode: 'force' })
    expect(commanded).toEqual({
      status: 200,
      body: { status: 'restart_commanded', agent_id: 'v-1', reason: 'upgrade', restart_id: id, mode: 'force', state: 'commanded', already_pending: false },
    })
    const restart = {
      restart_id: commanded.body.restart_id, reason: 'upgrade', mode: 'force', deadline_s: null, state: 'commanded',
      requested_at: time, updated_at: time, error: null, rollout_id: null,
    }
    expect(await agent(hub, 'v-1')).toEqual(agentAnswer('v-1', { ...facts, stats, drained: true, restart }))
    const resumed = await hub.api('POST', '/agents/v-1/resume')
    expect(resumed).toEqual({ status: 200, body: agentAnswer('v-1', { ...facts, stats, restart }) })
  })

  it('lists agents by id in pages, by status and by label', async () => {
    const hub = await hubs.start()
    await hub.agent('p-b', { labels: ['gpu'] })
    await hub.agent('p-a')
    const gone = await hub.agent('p-c', { labels: ['gpu'] })
    gone.close()
    await waitFor(() => agent(hub, 'p-c'), (a) => a.connected === false, { what: 'p-c offline' })
    const ids = (body: any) => body.agents.map((a: any) => a.agent_id)

    const all = await hub.api('GET', '/agents')
    expect(all.status).toBe(200)
    expect(Object.keys(all.body)).toEqual(['agents'])
    expect(all.body.agents).toEqual([agentAnswer('p-a'), agentAnswer('p-b', { labels: ['gpu'] }), expect.objectContaining({ agent_id: 'p-c', connected: false, status: 'offline' })])
    const first = await hub.api('GET', '/agents?limit=2')
    expect([ids(first.body), first.body.next_cursor]).toEqual([['p-a', 'p-b'], 'p-b'])
    const second = await hub.api('GET', '/agents?limit=2&cursor=p-b')
    expect([ids(second.body), second.body.next_cursor]).toEqual([['p-c'], null])
    expect(ids((await hub.api('GET', '/agents?status=offline')).body)).toEqual(['p-c'])
    expect(ids((await hub.api('GET', '/agents?status=idle&label=gpu')).body)).toEqual(['p-b'])
    expect(ids((await hub.api('GET', '/agents?label=gpu&limit=1')).body)).toEqual(['p-b'])
  })

  it('shows a task whole as created, read, listed and cancelled', async () => {
    const hub = await hubs.start()
    const created = await hub.api('POST', '/tasks', { input: { a: [1, 'x'] }, timeout_ms: 5000, labels: ['gpu'], retries: 2, retry_delay_ms: 500 })
    const queued = taskAnswer({ input: { a: [1, 'x'] }, timeout_ms: 5000, labels: ['gpu'], retries: 2, retry_delay_ms: 500 })
    expect(created).toEqual({ status: 201, body: queued })
    const taskId = created.body.task_id
    expect(await hub.api('GET', `/tasks/${taskId}`)).toEqual({ status: 200, body: { ...queued, task_id: taskId } })
    expect(await hub.api('GET', '/tasks?status=queued')).toEqual({ status: 200, body: { tasks: [{ ...queued, task_id: taskId }], next_cursor: null } })

    const cancelled = { ...queued, task_id: taskId, status: 'cancelled' }
    expect(await hub.api('POST', `/tasks/${taskId}/cancel`)).toEqual({ status: 200, body: cancelled })
    expect(await hub.api('POST', `/tasks/${taskId}/cancel`)).toEqual({ status: 409, body: { error: 'task_finished' } })
    expect(await hub.api('POST', '/tasks/nope/cancel')).toEqual({ status: 404, body: { error: 'task_not_found' } })
    expect(await hub.api('GET', '/tasks?status=cancelled')).toEqual({ status: 200, body: { tasks: [cancelled], next_cursor: null } })
  })

  it('fans a task out to every connected, undrained agent with the labels, each pinned', async () => {
    const hub = await hubs.start()
    await hub.agent('f-1', { labels: ['gpu'] })
    await hub.agent('f-2', { labels: ['gpu'] })
    await hub.agent('f-3')
    await hub.agent('f-4', { labels: ['gpu'] })
    expect((await hub.api('POST', '/agents/f-2/drain')).status).toBe(200)
    const fanned = await hub.api('POST', '/tasks', { input: 'all', all: true, labels: ['gpu'], timeout_ms: 60_000 })
    expect(fanned.status).toBe(201)
    expect(Object.keys(fanned.body)).toEqual(['tasks'])
    const byAgent = [...fanned.body.tasks].sort((x: any, y: any) => x.agent_id.localeCompare(y.agent_id))
    expect(byAgent).toEqual(['f-1', 'f-4'].map((agentId) => taskAnswer({ input: 'all', agent_id: agentId, timeout_ms: 60_000, labels: ['gpu'] })))
    // Nobody with the labels: no task, and an empty list.
    expect(await hub.api('POST', '/tasks', { input: 'none', all: true, labels: ['tpu'] })).toEqual({ status: 201, body: { tasks: [] } })
  })

  it('shows a rollout whole as created, read and cancelled', async () => {
    const hub = await hubs.start()
    await hub.agent('r-1')
    await hub.agent('r-2')
    const created = await hub.api('POST', '/rollouts', { agent_ids: ['r-1', 'r-2'], reason: 'upgrade', mode: 'force', deadline_s: 30 })
    const first = await hub.api('GET', '/agents/r-1')
    const rollout = {
      rollout_id: id, state: 'running', reason: 'upgrade', mode: 'force', deadline_s: 30, max_unavailable: 1, error: null,
      agents: [
        { agent_id: 'r-1', state: 'commanded', restart_id: first.body.restart.restart_id },
        { agent_id: 'r-2', state: 'waiting', restart_id: null },
      ],
      created_at: time, updated_at: time,
    }
    expect(created).toEqual({ status: 201, body: rollout })
    expect(first.body.restart).toEqual({
      restart_id: id, reason: 'upgrade', mode: 'force', deadline_s: 30, state: 'commanded', requested_at: time, updated_at: time,
      error: null, rollout_id: created.body.rollout_id,
    })
    const rolloutId = created.body.rollout_id
    expect(await hub.api('GET', `/rollouts/${rolloutId}`)).toEqual({ status: 200, body: { ...rollout, rollout_id: rolloutId } })
    expect(await hub.api('POST', `/rollouts/${rolloutId}/cancel`)).toEqual({ status: 200, body: { ...rollout, rollout_id: rolloutId, state: 'cancelled' } })
    expect(await hub.api('GET', '/rollouts/nope')).toEqual({ status: 404, body: { error: 'rollout_not_found' } })
  })

  it('shows the healing view and its pause switch alike', async () => {
    const healing = { crashLimit: 4, windowS: 120, maxMemoryMb: 512, maxConcurrent: 2, cooldownS: 30, maxPerAgent: 5 }
    const hub = await hubs.start({ hub: { healing } })
    const view = await hub.api('GET', '/healing')
    expect(view.status).toBe(200)
    expect(view.body).toEqual({
      paused: false, actions: [],
      policy: { crash_limit: 4, window_s: 120, max_memory_mb: 512, max_concurrent: 2, cooldown_s: 30, max_per_agent: 5 },
    })
    expect(await hub.api('POST', '/healing/pause')).toEqual({ status: 200, body: { ...view.body, paused: true } })
    expect(await hub.api('POST', '/healing/resume')).toEqual({ status: 200, body: view.body })
  })
})
