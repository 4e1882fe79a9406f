/**
 * Healing wired into the hub: what starts it and how it is seen. Agent.stats, the crash loop and
 * memory rules as frames arrive, and the healing routes. Frames go through the real socket layer,
 * routes through the app, the clock is the test's (support/healing-hub.ts). Alerts go to a real
 * HTTP server on port 0. Restarts over time (failed, held by cooldown or budget, task_overdue):
 * healing-hub-restarts.test.ts. The policy's own rules and limits are tested on a test clock in
 * healing-engine.test.ts (once healing-policy.test.ts).
 */
import { describe, expect, it } from 'vitest'
import { waitUntil } from '../../support/wait.ts'
import { MB, api, changes, clock, hub, join, restartFrames, settle, startHub, stats, useHealingHub, webhook } from '../../support/healing-hub.ts'

useHealingHub()

describe('Agent.stats', () => {
  it('is null until the first report, then the last report with the time the hub got it', async () => {
    startHub()
    const sock = await join('s-1')
    expect((await api('GET', '/agents/s-1')).body.stats).toBeNull()

    clock.now += 500
    changes.length = 0
    sock.send(stats(80))
    expect(changes).toContainEqual({ type: 'agent', agent_id: 's-1', stats: true })
    const { body } = await api('GET', '/agents/s-1')
    expect(body.stats).toEqual({ rss_bytes: 80 * MB, heap_used_bytes: 5 * MB, event_loop_delay_ms: 0.5, uptime_ms: 1234, at: clock.now })
    expect(body.quarantined).toBe(false)
    expect((await api('GET', '/agents')).body.agents[0].stats.rss_bytes).toBe(80 * MB)
  })

  it('refuses a bad stats frame and keeps the last good report', async () => {
    startHub()
    const sock = await join('s-1')
    sock.send(stats(80))
    sock.send({ ...stats(90), rss_bytes: -1 })
    sock.send({ type: 'stats', rss_bytes: 1 })
    expect(sock.sent.filter((m) => m.type === 'error').map((m) => m.error)).toEqual(['invalid_message', 'invalid_message'])
    expect((await api('GET', '/agents/s-1')).body.stats.rss_bytes).toBe(80 * MB)
  })
})

describe('crash loop', () => {
  it('quarantines after the crash limit, alerts the webhook, and resume lifts quarantine and drain', async () => {
    const hook = await webhook()
    startHub({ healing: { crashLimit: 3 }, alertWebhookUrl: hook.url })
    await join('c-1', { restart_count: 0 })
    await join('c-1', { restart_count: 1, pid: 101 })
    await join('c-1', { restart_count: 2, pid: 102 })
    expect((await api('GET', '/agents/c-1')).body.quarantined).toBe(false)
    changes.length = 0
    await join('c-1', { restart_count: 3, pid: 103 })

    const agent = (await api('GET', '/agents/c-1')).body
    expect(agent).toMatchObject({ quarantined: true, drained: true })
    await settle()
    expect(hub!.fleet.isAvailable('c-1')).toBe(false)
    const view = (await api('GET', '/healing')).body
    expect(view.actions).toHaveLength(1)
    const action = view.actions[0]
    expect(action).toMatchObject({ agent_id: 'c-1', rule: 'crash_loop', action: 'quarantine', state: 'quarantined', restart_id: null, at: clock.now })
    expect(changes).toContainEqual({ type: 'healing', action_id: action.action_id })
    expect(await hub!.healing.action(action.action_id)).toEqual(action)

    await waitUntil(() => expect(hook.received).toHaveLength(1))
    expect(hook.received[0]).toEqual({
      method: 'POST', contentType: 'application/json',
      body: { type: 'agent_quarantined', agent_id: 'c-1', rule: 'crash_loop', detail: action.detail, at: action.updated_at },
    })

    const resumed = await api('POST', '/agents/c-1/resume')
    expect(resumed).toMatchObject({ status: 200, body: { quarantined: false, drained: false } })
    await settle()
    expect((await api('GET', '/healing')).body.actions[0]).toMatchObject({ action_id: action.action_id, state: 'lifted' })
    await settle()
    expect(hub!.fleet.isAvailable('c-1')).toBe(true)
  })

  it('does not count a restart the hub commanded, nor a reconnect of the same process', async () => {
    startHub({ healing: { crashLimit: 1 } })
    await join('c-1', { restart_count: 0 })
    await join('c-1', { restart_count: 0 }) // same process, new connection
    expect((await api('POST', '/agents/c-1/restart')).status).toBe(200)
    await join('c-1', { restart_count: 1, pid: 101 })
    expect((await api('GET', '/agents/c-1')).body).toMatchObject({ quarantined: false, restart: { state: 'completed' } })
    await settle()
    expect((await api('GET', '/healing')).body.actions).toEqual([])
    await join('c-1', { restart_count: 2, pid: 102 }) // nobody asked for this one
    expect((await api('GET', '/agents/c-1')).body.quarantined).toBe(true)
  })
})

describe('memory rule', () => {
  it('restarts gracefully (heal:memory) after two reports in a row above the limit, and follows the restart', async () => {
    startHub({ healing: { maxMemoryMb: 100 } })
    const sock = await join('m-1')
    sock.send(stats(150))
    sock.send(stats(50))
    sock.send(stats(150))
    await settle()
    expect(restartFrames(sock)).toEqual([])
    sock.send(stats(150))
    await settle()
    expect(restartFrames(sock)).toEqual([expect.objectContaining({ reason: 'heal:memory', mode: 'graceful' })])
    await settle()
    const restartId = restartFrames(sock)[0].restart_id
    await settle()
    expect((await api('GET', '/healing')).body.actions).toEqual([
      expect.objectContaining({ agent_id: 'm-1', rule: 'memory', action: 'restart', restart_id: restartId, state: 'commanded' }),
    ])

    sock.send({ type: 'agent_restarting', reason: 'heal:memory', restart_id: restartId })
    await settle()
    expect((await api('GET', '/healing')).body.actions[0].state).toBe('restarting')
    await join('m-1', { restart_count: 1, pid: 101 })
    await settle()
    expect((await api('GET', '/healing')).body.actions[0].state).toBe('completed')
    // The hub commanded it: not a crash.
    expect((await api('GET', '/agents/m-1')).body.quarantined).toBe(false)
  })

  it('waits for the running task (deferred) like any graceful restart', async () => {
    startHub({ healing: { maxMemoryMb: 100 } })
    const sock = await join('m-1')
    const task = await api('POST', '/tasks', { input: { n: 1 } })
    await waitUntil(() => expect(sock.sent.map((m) => m.type)).toContain('task_assign'))
    sock.send({ type: 'task_accepted', task_id: task.body.task_id })
    sock.send(stats(150))
    sock.send(stats(150))
    expect((await api('GET', '/agents/m-1')).body.restart).toMatchObject({ reason: 'heal:memory', state: 'deferred' })
    await settle()
    expect((await api('GET', '/healing')).body.actions[0].state).toBe('deferred')
  })

  it('keeps to the budget: one in flight fleet-wide, none while a rollout runs, none while paused', async () => {
    startHub({ healing: { maxMemoryMb: 100, cooldownS: 0 } })
    const a = await join('m-1')
    const b = await join('m-2')
    for (const s of [a, b, a, b]) s.send(stats(150))
    await settle()
    expect(restartFrames(a)).toHaveLength(1)
    await settle()
    expect(restartFrames(b)).toHaveLength(0)
    await join('m-1', { restart_count: 1, pid: 101 })
    for (const s of [b, b]) s.send(stats(150))
    await settle()
    expect(restartFrames(b)).toHaveLength(1)
    await join('m-2', { restart_count: 1, pid: 201 })

    const rollout = await api('POST', '/rollouts', { agent_ids: ['m-1'] })
    expect(rollout.body.state).toBe('running')
    const c = await join('m-3')
    for (const s of [c, c]) s.send(stats(150))
    await settle()
    expect(restartFrames(c)).toHaveLength(0)
    await join('m-1', { restart_count: 2, pid: 102 })
    expect((await api('GET', `/rollouts/${rollout.body.rollout_id}`)).body.state).toBe('completed')

    expect((await api('POST', '/healing/pause')).body.paused).toBe(true)
    for (const s of [c, c]) s.send(stats(150))
    await settle()
    expect(restartFrames(c)).toHaveLength(0)
    expect((await api('POST', '/healing/resume')).body.paused).toBe(false)
    for (const s of [c, c]) s.send(stats(150))
    await settle()
    expect(restartFrames(c)).toHaveLength(1)
  })
})

describe('healing routes', () => {
  it('GET /healing shows policy, paused and actions newest first; pause and resume answer the view', async () => {
    startHub({ healing: { crashLimit: 1, windowS: 60, maxMemoryMb: 512, maxConcurrent: 2, cooldownS: 5, maxPerAgent: 4 } })
    const policy = { crash_limit: 1, window_s: 60, max_memory_mb: 512, max_concurrent: 2, cooldown_s: 5, max_per_agent: 4 }
    expect(await api('GET', '/healing')).toEqual({ status: 200, body: { paused: false, policy, actions: [] } })
    await join('x-1')
    await join('x-1', { restart_count: 1, pid: 2 })
    clock.now += 10
    await join('x-2')
    await join('x-2', { restart_count: 1, pid: 3 })
    const { body } = await api('GET', '/healing')
    expect(body.actions.map((a: any) => a.agent_id)).toEqual(['x-2', 'x-1'])
    expect(await api('POST', '/healing/pause')).toEqual({ status: 200, body: { ...body, paused: true } })
    await settle()
    expect((await api('GET', '/healing')).body.paused).toBe(true)
    expect(await api('POST', '/healing/resume')).toEqual({ status: 200, body: { ...body, paused: false } })
  })

  it('needs an admin token', async () => {
    startHub()
    for (const [method, path] of [['GET', '/healing'], ['POST', '/healing/pause'], ['POST', '/healing/resume']]) {
      const res = await hub!.app.request(`/api/admin${path}`, { method })
      expect(res.status).toBe(401)
      expect(await res.json()).toEqual({ error: 'unauthorized' })
    }
  })
})
