/**
 * GET /metrics of a real hub process (Node or Deno, per AGENTCOM_TEST_RUNTIME), read with a
 * parser of the Prometheus text format, while an agent on a real WebSocket restarts and runs a
 * task: the values move with the fleet, and each restart counts once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitUntil } from '../../support/wait.ts'
import { identifiedSocket, type TestSocket } from '../../support/ws-client.ts'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { family, histogram, scrape, value } from '../../support/prometheus.ts'
import { startWebhookServer } from '../../support/webhook.ts'
import { signAdminToken } from '../../hub/auth/auth.ts'

let hub: HubProcess
let webhook: Awaited<ReturnType<typeof startWebhookServer>>

beforeAll(async () => {
  webhook = await startWebhookServer()
  hub = await startHubProcess({ AGENTCOM_RESTART_TIMEOUT_S: '2', AGENTCOM_HEAL_CRASH_LIMIT: '2', AGENTCOM_ALERT_WEBHOOK_URL: webhook.url })
})
afterAll(async () => {
  await hub?.stop()
  await webhook?.close()
})

const pm2Info = (restart_count: number, pid: number) => ({
  name: 'agentcom-m', pm_id: 3, pid, status: 'online', uptime_ms: 1000, restart_count, memory_bytes: 1e7,
})

async function agent(agentId: string, restartCount: number, pid: number): Promise<TestSocket> {
  return identifiedSocket(hub.wsUrl, agentId, await hub.agentToken(agentId), { pm2_info: pm2Info(restartCount, pid) })
}

const metrics = async () => {
  const res = await scrape(hub.url, await hub.adminToken())
  expect(res.status).toBe(200)
  return res.families
}

describe(`GET /metrics (${process.env.AGENTCOM_TEST_RUNTIME ?? 'node'} hub)`, () => {
  it('needs a valid admin-audience token: none, garbage, an agent token, a foreign, expired or revoked one is 401', async () => {
    const revoked = await signAdminToken(hub.secret)
    const jti = JSON.parse(Buffer.from(revoked.split('.')[1], 'base64url').toString()).jti
    expect((await hub.api('POST', '/api/admin/tokens/revoke', { jti })).status).toBe(200)
    const expired = await signAdminToken(hub.secret, 1)
    await waitUntil(async () => expect((await fetch(`${hub.url}/api/admin/agents`, { headers: { authorization: `Bearer ${expired}` } })).status).toBe(401), { timeoutMs: 5000 })
    const refused = ['', 'nope', await hub.agentToken('m-0'), await signAdminToken('x'.repeat(40)), expired, revoked]
    for (const path of ['/metrics', '/api/admin/metrics/history']) {
      for (const token of refused) {
        const res = await fetch(`${hub.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
        expect(res.status).toBe(401)
        expect(await res.text()).toBe('{"error":"unauthorized"}')
      }
    }
    expect(hub.logs.some((line) => refused.some((t) => t.length > 10 && line.includes(t)))).toBe(false)
  })

  it('answers the text format 0.0.4 with every metric of the contract, typed and labelled', async () => {
    const res = await scrape(hub.url, await hub.adminToken())
    expect(res.status).toBe(200)
    expect(res.contentType).toMatch(/^text\/plain; version=0\.0\.4/)
    const types = Object.fromEntries(res.families.map((f) => [f.name, f.type]))
    expect(types).toMatchObject({
      agentcom_agents: 'GAUGE', agentcom_agents_quarantined: 'GAUGE', agentcom_connections: 'GAUGE',
      agentcom_tasks_queued: 'GAUGE', agentcom_tasks_created_total: 'COUNTER', agentcom_tasks_finished_total: 'COUNTER',
      agentcom_task_duration_seconds: 'HISTOGRAM', agentcom_restarts_total: 'COUNTER', agentcom_healing_actions_total: 'COUNTER',
      agentcom_alerts_total: 'COUNTER', agentcom_events_clients: 'GAUGE', agentcom_build_info: 'GAUGE', process_resident_memory_bytes: 'GAUGE',
    })
    const labelsOf = (name: string) => family(res.families, name).metrics.map((m) => m.labels)
    expect(labelsOf('agentcom_agents').map((l) => l?.status).sort()).toEqual(['idle', 'offline', 'restarting', 'working'])
    expect(labelsOf('agentcom_tasks_finished_total').map((l) => l?.status).sort()).toEqual(['cancelled', 'completed', 'failed'])
    expect(labelsOf('agentcom_restarts_total')).toHaveLength(6)
    expect(labelsOf('agentcom_build_info')).toEqual([{ version: expect.any(String), runtime: expect.stringMatching(new RegExp(`^${hub.runtime} `)) }])
    expect(value(res.families, 'process_resident_memory_bytes')).toBeGreaterThan(1_000_000)
    // A single hub labels nothing with hub_id.
    expect(res.text).not.toContain('hub_id=')
  })

  it('counts a restart once, and shows the agent restarting meanwhile', async () => {
    const before = await metrics()
    const completed = value(before, 'agentcom_restarts_total', { kind: 'admin', state: 'completed' })
    const socket = await agent('m-restart', 1, 500)
    const res = await hub.api('POST', '/api/admin/agents/m-restart/restart', { reason: 'metrics test' })
    expect(res.status).toBe(200)
    await socket.next('restart_sidecar')
    socket.send({ type: 'agent_restarting', reason: 'metrics test', restart_id: res.body.restart_id })
    await waitUntil(async () => expect(value(await metrics(), 'agentcom_agents', { status: 'restarting' })).toBe(1))
    socket.ws.close(1012, 'restarting')
    await socket.closed
    const back = await agent('m-restart', 2, 501)
    await waitUntil(async () => expect(value(await metrics(), 'agentcom_restarts_total', { kind: 'admin', state: 'completed' })).toBe(completed + 1))
    // More changes of the same agent (its stats, a second identify) do not count it again.
    back.send({ type: 'stats', rss_bytes: 2e7, heap_used_bytes: 1e7, event_loop_delay_ms: 0, uptime_ms: 5 })
    back.close()
    await back.closed
    const again = await agent('m-restart', 2, 501)
    await waitUntil(async () => expect((await hub.api('GET', '/api/admin/agents/m-restart')).body.connected).toBe(true))
    const after = await metrics()
    expect(value(after, 'agentcom_restarts_total', { kind: 'admin', state: 'completed' })).toBe(completed + 1)
    expect(value(after, 'agentcom_restarts_total', { kind: 'admin', state: 'failed' })).toBe(0)
    again.close()
  })

  it('counts a task created and finished, and its time from acceptance in the histogram', async () => {
    const before = await metrics()
    const socket = await agent('m-task', 0, 600)
    const created = await hub.api('POST', '/api/admin/tasks', { input: { n: 1 }, agent_id: 'm-task' })
    expect(created.status).toBe(201)
    const assign = await socket.next('task_assign')
    expect(assign.task_id).toBe(created.body.task_id)
    socket.send({ type: 'task_accepted', task_id: assign.task_id })
    await waitUntil(async () => expect(value(await metrics(), 'agentcom_agents', { status: 'working' })).toBe(1))
    // The task's own run time: what the histogram must show (not a wait for an event).
    await new Promise((resolve) => setTimeout(resolve, 300))
    socket.send({ type: 'task_complete', task_id: assign.task_id, result: { ok: true } })
    await socket.next('task_ack')
    const after = await metrics()
    expect(value(after, 'agentcom_tasks_created_total')).toBe(value(before, 'agentcom_tasks_created_total') + 1)
    expect(value(after, 'agentcom_tasks_finished_total', { status: 'completed' }))
      .toBe(value(before, 'agentcom_tasks_finished_total', { status: 'completed' }) + 1)
    const h = histogram(after, 'agentcom_task_duration_seconds')
    const h0 = histogram(before, 'agentcom_task_duration_seconds')
    expect(h.count).toBe(h0.count + 1)
    expect(h.sum - h0.sum).toBeGreaterThanOrEqual(0.3)
    expect(h.sum - h0.sum).toBeLessThan(30)
    expect(h.buckets['0.1'] - (h0.buckets['0.1'] ?? 0)).toBe(0)
    expect(h.buckets['+Inf']).toBe(h.count)
    // The same outcome sent again (a sidecar that missed the ack) counts nothing.
    socket.send({ type: 'task_complete', task_id: assign.task_id, result: { ok: true } })
    await socket.next('task_ack')
    const repeat = await metrics()
    expect(value(repeat, 'agentcom_tasks_finished_total', { status: 'completed' })).toBe(value(after, 'agentcom_tasks_finished_total', { status: 'completed' }))
    expect(value(repeat, 'agentcom_connections')).toBeGreaterThanOrEqual(1)
    socket.close()
  })

  it('counts healing\'s quarantine of a crash-looping agent, and its alert delivered', async () => {
    const before = await metrics()
    // pm2 restarted it twice without the hub asking: the crash-loop rule (limit 2 here).
    for (const n of [0, 1, 2]) {
      const socket = await agent('m-crash', n, 700 + n)
      socket.close()
      await socket.closed
    }
    await waitUntil(async () => expect(webhook.received.length).toBe(1))
    // Counted once the hub has read the receiver's answer, a moment after the receiver got it.
    await waitUntil(async () => expect(value(await metrics(), 'agentcom_alerts_total', { type: 'agent_quarantined', result: 'delivered' })).toBe(1))
    const after = await metrics()
    expect(value(after, 'agentcom_healing_actions_total', { rule: 'crash_loop' })).toBe(value(before, 'agentcom_healing_actions_total', { rule: 'crash_loop' }) + 1)
    expect(value(after, 'agentcom_agents_quarantined')).toBe(1)
    expect(value(after, 'agentcom_alerts_total', { type: 'agent_quarantined', result: 'delivered' })).toBe(1)
    expect(value(after, 'agentcom_alerts_total', { type: 'agent_quarantined', result: 'failed' })).toBe(0)
  })

  it('counts the fleet\'s alerts too: agent_offline and agent_recovered, each type listed from the start', async () => {
    const hook = await startWebhookServer()
    const own = await startHubProcess({ AGENTCOM_ALERT_OFFLINE_S: '1', AGENTCOM_ALERT_WEBHOOK_URL: hook.url })
    try {
      const scrapeOwn = async () => (await scrape(own.url, await own.adminToken())).families
      for (const type of ['agent_offline', 'agent_recovered', 'rollout_failed']) {
        expect(value(await scrapeOwn(), 'agentcom_alerts_total', { type, result: 'failed' }), type).toBe(0)
      }
      const connect = async () => identifiedSocket(own.wsUrl, 'm-away', await own.agentToken('m-away'), { pm2_info: pm2Info(0, 900) })
      const first = await connect()
      first.close()
      await first.closed
      await waitUntil(async () => expect(value(await scrapeOwn(), 'agentcom_alerts_total', { type: 'agent_offline', result: 'delivered' })).toBe(1))
      const back = await connect()
      await waitUntil(async () => expect(value(await scrapeOwn(), 'agentcom_alerts_total', { type: 'agent_recovered', result: 'delivered' })).toBe(1))
      expect(hook.received.map((r) => r.body.type)).toEqual(['agent_offline', 'agent_recovered'])
      back.close()
    } finally {
      await own.stop()
      await hook.close()
    }
  })
})
