/**
 * The memory rule on a real pm2: a fleet of three sidecars whose every member is over
 * AGENTCOM_HEAL_MAX_MEMORY_MB is healed one agent at a time, each up to the per-agent limit,
 * and then escalated (`heal_escalated`, received by a real HTTP server) instead of restarted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { createPm2Sandbox, type Pm2Sandbox } from '../../support/pm2.ts'
import { startWebhookServer } from '../../support/webhook.ts'
import { waitFor } from '../../support/wait.ts'

const FLEET = ['m-1', 'm-2', 'm-3']
const MAX_PER_AGENT = 2
const IN_FLIGHT = new Set(['commanded', 'deferred', 'restarting'])

let hub: HubProcess
let pm2: Pm2Sandbox
let webhook: Awaited<ReturnType<typeof startWebhookServer>>

beforeAll(async () => {
  webhook = await startWebhookServer()
  hub = await startHubProcess({
    // Every sidecar uses far more than 1 MB.
    AGENTCOM_HEAL_MAX_MEMORY_MB: '1',
    AGENTCOM_HEAL_MAX_PER_AGENT: String(MAX_PER_AGENT),
    AGENTCOM_HEAL_MAX_CONCURRENT: '1',
    AGENTCOM_HEAL_COOLDOWN_S: '1',
    // Long enough that every restart of the test stays within one window.
    AGENTCOM_HEAL_WINDOW_S: '600',
    AGENTCOM_RESTART_TIMEOUT_S: '20',
    AGENTCOM_ALERT_WEBHOOK_URL: webhook.url,
  })
  pm2 = await createPm2Sandbox()
  for (const id of FLEET) {
    await pm2.startSidecar(id, { AGENTCOM_HUB_URL: hub.wsUrl, AGENTCOM_TOKEN: await hub.agentToken(id), AGENTCOM_STATS_INTERVAL_MS: '250' })
  }
})

afterAll(async () => {
  await pm2?.kill()
  await hub?.stop()
  await webhook?.close()
})

const healing = async () => (await hub.api('GET', '/api/admin/healing')).body
const agents = async () => (await hub.api('GET', '/api/admin/agents')).body.agents as any[]

describe('memory healing on a real pm2', () => {
  it('heals each agent up to its limit, one at a time, then escalates', async () => {
    let maxInFlight = 0
    const final = await waitFor(async () => {
      const view = await healing()
      const inFlight = view.actions.filter((a: any) => a.action === 'restart' && IN_FLIGHT.has(a.state))
      maxInFlight = Math.max(maxInFlight, inFlight.length)
      return view
    }, (view) => FLEET.every((id) => view.actions.some((a: any) => a.agent_id === id && a.action === 'escalate')), {
      timeoutMs: 50_000, intervalMs: 25, what: 'every agent escalated',
    })

    // Sampled all along: never two healing restarts in flight at once.
    expect(maxInFlight).toBe(1)
    const restarts = final.actions.filter((a: any) => a.action === 'restart')
    for (const id of FLEET) {
      const mine = restarts.filter((a: any) => a.agent_id === id)
      expect(mine).toHaveLength(MAX_PER_AGENT)
      for (const a of mine) expect(a).toMatchObject({ rule: 'memory', state: 'completed', restart_id: expect.any(String) })
    }
    // And by the record: each restart started after the one before it had ended.
    const byStart = [...restarts].sort((a: any, b: any) => a.at - b.at)
    for (let i = 1; i < byStart.length; i++) expect(byStart[i].at).toBeGreaterThanOrEqual(byStart[i - 1].updated_at)

    const escalations = final.actions.filter((a: any) => a.action === 'escalate')
    expect(escalations.map((a: any) => a.agent_id).sort()).toEqual(FLEET)
    for (const a of escalations) expect(a).toMatchObject({ rule: 'memory', state: 'alerted' })

    // pm2 restarted each process exactly that often, each time because the hub asked.
    for (const id of FLEET) expect((await pm2.get(`agentcom-${id}`)).restart_time).toBe(MAX_PER_AGENT)
    const list = await agents()
    for (const a of list) {
      expect(a).toMatchObject({ quarantined: false, restart: { reason: 'heal:memory', state: 'completed' } })
      expect(a.stats.rss_bytes).toBeGreaterThan(1024 * 1024)
      expect(a.stats.heap_used_bytes).toBeGreaterThan(0)
    }

    const alerts = await waitFor(async () => webhook.received, (r) => r.length >= FLEET.length, { what: 'three alerts' })
    expect(alerts.map((r) => r.body.agent_id).sort()).toEqual(FLEET)
    for (const r of alerts) {
      expect(r).toMatchObject({ method: 'POST', contentType: 'application/json' })
      const escalation = escalations.find((a: any) => a.agent_id === r.body.agent_id)
      expect(r.body).toEqual({ type: 'heal_escalated', agent_id: escalation.agent_id, rule: 'memory', detail: escalation.detail, at: escalation.updated_at })
      expect(r.body.detail).toContain(`${MAX_PER_AGENT} healing restarts within 600 s`)
    }

    // Escalated, not restarted: two more reports each over the limit change nothing.
    const lastAction = Math.max(...final.actions.map((a: any) => a.updated_at))
    await waitFor(agents, (list) => list.every((a) => a.stats.at > lastAction + 600), { what: 'more stats reports', timeoutMs: 10_000 })
    const after = await healing()
    expect(after.actions).toHaveLength(final.actions.length)
    expect(webhook.received).toHaveLength(FLEET.length)
    for (const id of FLEET) expect((await pm2.get(`agentcom-${id}`)).restart_time).toBe(MAX_PER_AGENT)
  })
})
