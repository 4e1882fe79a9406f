/**
 * GET /metrics in cluster mode: two hubs on one PostgreSQL database, agents as real WebSocket
 * clients. The fleet's gauges are the same from every hub; counters are each hub's own,
 * labelled hub_id, and what happens once in the fleet is counted once over all hubs.
 */
import { describe, expect, it } from 'vitest'
import { agentOn, clusterAdminToken, pm2Info, useTwoClusterHubs, type TestHub } from '../../support/cluster-hubs.ts'
import type { TestSocket } from '../../support/ws-client.ts'
import { histogram, scrape, value, type ParsedFamily } from '../../support/prometheus.ts'
import { waitFor } from '../../support/wait.ts'

let a: TestHub
let b: TestHub
const sockets = useTwoClusterHubs(['hub-a', 'hub-b'], (hubs) => ({ a, b } = hubs), () => ({
  hub: { restartTimeoutMs: 1500, healing: { crashLimit: 2 } },
}))

async function metrics(hub: TestHub): Promise<ParsedFamily[]> {
  const res = await scrape(hub.running.url, await clusterAdminToken())
  expect(res.status).toBe(200)
  return res.families
}

async function agent(hub: TestHub, agentId: string, restartCount: number, pid: number): Promise<TestSocket> {
  const socket = await agentOn(hub, agentId, { pm2_info: pm2Info(restartCount, pid) })
  sockets.push(socket)
  return socket
}

/** The sum over both hubs of a counter's series, each hub's labelled with its own hub_id. */
async function overHubs(name: string, labels: Record<string, string> = {}): Promise<{ a: number; b: number }> {
  return {
    a: value(await metrics(a), name, { ...labels, hub_id: 'hub-a' }),
    b: value(await metrics(b), name, { ...labels, hub_id: 'hub-b' }),
  }
}

describe('GET /metrics in cluster mode', () => {
  it('shows the fleet\'s gauges alike on every hub, and each hub\'s connections as its own', async () => {
    await agent(b, 'cm-1', 0, 100)
    await waitFor(() => metrics(a), (f) => value(f, 'agentcom_agents', { status: 'idle' }) === 1, { what: 'cm-1 idle on hub-a' })
    const [fa, fb] = [await metrics(a), await metrics(b)]
    for (const status of ['idle', 'working', 'restarting', 'offline']) {
      expect(value(fa, 'agentcom_agents', { status })).toBe(value(fb, 'agentcom_agents', { status }))
    }
    expect(value(fa, 'agentcom_tasks_queued')).toBe(value(fb, 'agentcom_tasks_queued'))
    expect(value(fa, 'agentcom_connections', { hub_id: 'hub-a' })).toBe(0)
    expect(value(fb, 'agentcom_connections', { hub_id: 'hub-b' })).toBe(1)
    expect(value(fa, 'agentcom_build_info', { hub_id: 'hub-a' })).toBe(1)
  })

  it('counts a task where it happened: created on one hub, accepted and finished on the other', async () => {
    const before = { created: await overHubs('agentcom_tasks_created_total'), done: await overHubs('agentcom_tasks_finished_total', { status: 'completed' }) }
    const socket = await agent(b, 'cm-task', 0, 200)
    const created = await a.api('POST', '/tasks', { input: { n: 1 }, agent_id: 'cm-task' })
    expect(created.status).toBe(201)
    const assign = await socket.next('task_assign')
    socket.send({ type: 'task_accepted', task_id: assign.task_id })
    await waitFor(() => a.api('GET', `/tasks/${assign.task_id}`), (r) => r.body.status === 'working', { what: 'task working' })
    // The task's own run time, which the histogram must show.
    await new Promise((resolve) => setTimeout(resolve, 200))
    socket.send({ type: 'task_complete', task_id: assign.task_id, result: 'ok' })
    await socket.next('task_ack')
    await waitFor(() => overHubs('agentcom_tasks_finished_total', { status: 'completed' }), (n) => n.b === before.done.b + 1, { what: 'finished on hub-b' })
    expect(await overHubs('agentcom_tasks_created_total')).toEqual({ a: before.created.a + 1, b: before.created.b })
    expect((await overHubs('agentcom_tasks_finished_total', { status: 'completed' })).a).toBe(before.done.a)
    const h = histogram(await metrics(b), 'agentcom_task_duration_seconds')
    expect(h.count).toBe(1)
    expect(h.sum).toBeGreaterThanOrEqual(0.2)
  })

  it('gives every hub the whole fleet\'s chart history: memory reports and finished tasks of agents on another hub', async () => {
    const socket = await agent(b, 'cm-chart', 0, 250)
    socket.send({ type: 'stats', rss_bytes: 12_345_678, heap_used_bytes: 1, event_loop_delay_ms: 0, uptime_ms: 1 })
    const created = await a.api('POST', '/tasks', { input: {}, agent_id: 'cm-chart' })
    const assign = await socket.next('task_assign')
    socket.send({ type: 'task_accepted', task_id: assign.task_id })
    socket.send({ type: 'task_failed', task_id: created.body.task_id, error: 'boom' })
    await socket.next('task_ack')
    for (const hub of [a, b]) {
      const history = await waitFor(() => hub.api('GET', '/metrics/history'), (r) =>
        r.body.memory['cm-chart']?.some((p: { rss_bytes: number }) => p.rss_bytes === 12_345_678) &&
        r.body.minutes.some((m: { finished: { failed: number } }) => m.finished.failed >= 1), { what: `history on ${hub.id}` })
      expect(history.status).toBe(200)
      expect(history.body.minutes.length).toBeLessThanOrEqual(60)
    }
  })

  it('counts a restart commanded on one hub and completed on the other once', async () => {
    const before = await overHubs('agentcom_restarts_total', { kind: 'admin', state: 'completed' })
    const socket = await agent(b, 'cm-restart', 1, 300)
    const res = await a.api('POST', '/agents/cm-restart/restart', { reason: 'metrics' })
    expect(res.status).toBe(200)
    await socket.next('restart_sidecar')
    socket.ws.close(1012, 'restarting')
    await socket.closed
    await agent(b, 'cm-restart', 2, 301)
    await waitFor(() => overHubs('agentcom_restarts_total', { kind: 'admin', state: 'completed' }), (n) => n.b === before.b + 1, { what: 'restart counted' })
    expect((await overHubs('agentcom_restarts_total', { kind: 'admin', state: 'completed' })).a).toBe(before.a)
  })

  it('counts healing\'s quarantine once, on the hub that made it, and the fleet\'s quarantined agents on every hub', async () => {
    const before = await overHubs('agentcom_healing_actions_total', { rule: 'crash_loop' })
    for (const n of [0, 1, 2]) {
      const socket = await agent(b, 'cm-crash', n, 500 + n)
      socket.close()
      await socket.closed
    }
    await waitFor(() => a.api('GET', '/agents/cm-crash'), (r) => r.body.quarantined === true, { what: 'cm-crash quarantined' })
    await waitFor(() => overHubs('agentcom_healing_actions_total', { rule: 'crash_loop' }), (n) => n.a + n.b === before.a + before.b + 1, { what: 'counted' })
    for (const hub of [a, b]) expect(value(await metrics(hub), 'agentcom_agents_quarantined')).toBe(1)
    // Lifting the quarantine (from the other hub) is a change of that action, not a new one.
    expect((await a.api('POST', '/agents/cm-crash/resume')).status).toBe(200)
    await waitFor(() => a.api('GET', '/healing'), (r) => r.body.actions.some((x: { state: string }) => x.state === 'lifted'), { what: 'lifted' })
    const after = await overHubs('agentcom_healing_actions_total', { rule: 'crash_loop' })
    expect(after.a + after.b).toBe(before.a + before.b + 1)
  })

  it('counts a restart whose agent never comes back as failed once over all hubs', async () => {
    const before = await overHubs('agentcom_restarts_total', { kind: 'admin', state: 'failed' })
    const socket = await agent(b, 'cm-gone', 1, 400)
    const res = await a.api('POST', '/agents/cm-gone/restart', { reason: 'metrics' })
    await socket.next('restart_sidecar')
    socket.ws.close(1012, 'restarting')
    await socket.closed
    await waitFor(() => a.api('GET', '/agents/cm-gone'), (r) => r.body.restart?.state === 'failed', { what: 'restart failed' })
    // hub-b, which held the agent, gives up on its own too: that must not count it again.
    await waitFor(async () => b.running.hub.fleet.get('cm-gone')?.restart?.state, (s) => s === 'failed', { what: 'hub-b timed out too' })
    const after = await overHubs('agentcom_restarts_total', { kind: 'admin', state: 'failed' })
    expect(after.a + after.b).toBe(before.a + before.b + 1)
    expect(res.body.restart_id).toEqual(expect.any(String))
  })
})
