/**
 * The crash-loop rule on a real pm2: a poison task that kills its own sidecar (`kill -9 $PPID`)
 * makes pm2 restart it again and again; at the crash limit the hub quarantines the agent and
 * the `agent_quarantined` alert reaches a real HTTP server. The rest of the fleet is untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { createPm2Sandbox, DEMO_TASK, type Pm2Sandbox } from '../../support/pm2.ts'
import { startWebhookServer } from '../../support/webhook.ts'
import { waitFor } from '../../support/wait.ts'

const CRASH_LIMIT = 3
// The demo task, except for the poison input: that one kills the sidecar that runs it
// (`$PPID` of the task's shell is the sidecar process).
const TASK_COMMAND = `input=$(cat); case "$input" in *'"poison":true'*) kill -9 $PPID;; esac; printf '%s' "$input" | ${DEMO_TASK}`

let hub: HubProcess
let pm2: Pm2Sandbox
let webhook: Awaited<ReturnType<typeof startWebhookServer>>

beforeAll(async () => {
  webhook = await startWebhookServer()
  hub = await startHubProcess({
    AGENTCOM_HEAL_CRASH_LIMIT: String(CRASH_LIMIT),
    AGENTCOM_HEAL_WINDOW_S: '600',
    AGENTCOM_ALERT_WEBHOOK_URL: webhook.url,
  })
  pm2 = await createPm2Sandbox()
  for (const id of ['c-1', 'c-2']) {
    await pm2.startSidecar(id, { AGENTCOM_HUB_URL: hub.wsUrl, AGENTCOM_TOKEN: await hub.agentToken(id), AGENTCOM_TASK_COMMAND: TASK_COMMAND })
  }
  for (const id of ['c-1', 'c-2']) await waitFor(() => agent(id), (a) => a.status === 'idle', { what: `${id} idle`, timeoutMs: 30_000 })
})

afterAll(async () => {
  await pm2?.kill()
  await hub?.stop()
  await webhook?.close()
})

const agent = async (id: string) => (await hub.api('GET', `/api/admin/agents/${id}`)).body

describe('crash-loop healing on a real pm2', () => {
  it('quarantines the agent a poison task keeps killing, and alerts the webhook', async () => {
    const poison = await hub.api('POST', '/api/admin/tasks', { input: { poison: true }, agent_id: 'c-1' })
    expect(poison.status).toBe(201)

    const quarantined = await waitFor(() => agent('c-1'), (a) => a.quarantined, { what: 'c-1 quarantined', timeoutMs: 40_000 })
    expect(quarantined).toMatchObject({ drained: true, connected: true })
    expect((await pm2.get('agentcom-c-1')).restart_time).toBe(CRASH_LIMIT)

    const { body: view } = await hub.api('GET', '/api/admin/healing')
    expect(view.actions).toEqual([expect.objectContaining({
      agent_id: 'c-1', rule: 'crash_loop', action: 'quarantine', state: 'quarantined', restart_id: null,
      detail: `${CRASH_LIMIT} unplanned restarts within 600 s`,
    })])

    const [alert] = await waitFor(async () => webhook.received, (r) => r.length > 0, { what: 'the alert' })
    expect(alert).toMatchObject({ method: 'POST', contentType: 'application/json' })
    expect(alert.body).toEqual({
      type: 'agent_quarantined', agent_id: 'c-1', rule: 'crash_loop',
      detail: `${CRASH_LIMIT} unplanned restarts within 600 s`, at: view.actions[0].updated_at,
    })

    // Quarantined means left alone: the poison task waits for c-1, nothing kills it again.
    // (The restarted sidecar reports it interrupted just after it identified.)
    const task = await waitFor(async () => (await hub.api('GET', `/api/admin/tasks/${poison.body.task_id}`)).body, (t) => t.status === 'queued', { what: 'poison task queued' })
    expect(task).toMatchObject({ attempts: CRASH_LIMIT, agent_id: 'c-1' })

    // The rest of the fleet works on, untouched.
    const ok = await hub.api('POST', '/api/admin/tasks', { input: { n: 1 } })
    const done = await waitFor(async () => (await hub.api('GET', `/api/admin/tasks/${ok.body.task_id}`)).body, (t) => t.status === 'completed')
    expect(done).toMatchObject({ agent_id: 'c-2', result: { echo: { n: 1 } } })
    expect(await agent('c-2')).toMatchObject({ quarantined: false, drained: false })
    expect((await pm2.get('agentcom-c-2')).restart_time).toBe(0)
    expect((await pm2.get('agentcom-c-1')).restart_time).toBe(CRASH_LIMIT)
    expect(webhook.received).toHaveLength(1)
  })
})
