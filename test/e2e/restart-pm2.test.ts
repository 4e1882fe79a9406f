/**
 * The restart path end to end: a real hub, a sidecar started from the ecosystem file under a
 * real pm2 daemon, a restart over HTTP, and the agent back with restart_count one higher.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitUntil } from '../../support/wait.ts'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { createPm2Sandbox, type Pm2Sandbox } from '../../support/pm2.ts'

let hub: HubProcess
let pm2: Pm2Sandbox
let token: string

beforeAll(async () => {
  hub = await startHubProcess()
  pm2 = await createPm2Sandbox()
  token = await hub.agentToken('e2e-1')
  await pm2.startSidecar('e2e-1', { AGENTCOM_HUB_URL: hub.wsUrl, AGENTCOM_TOKEN: token })
})

afterAll(async () => {
  await pm2?.kill()
  await hub?.stop()
})

const agent = async (id: string) => (await hub.api('GET', `/api/admin/agents/${id}`)).body

describe(`restart under a real pm2 (${process.env.AGENTCOM_TEST_RUNTIME ?? 'node'} hub)`, () => {
  it('identifies with its own pm2 info and no part of pm2\'s environment', async () => {
    await waitUntil(async () => expect(await agent('e2e-1')).toMatchObject({ connected: true, status: 'idle' }), { timeoutMs: 20_000 })
    const info = (await agent('e2e-1')).pm2_info
    const real = await pm2.get('agentcom-e2e-1')
    expect(info).toMatchObject({ name: 'agentcom-e2e-1', pid: real.pid, status: 'online', restart_count: 0 })
    expect(Object.keys(info).sort()).toEqual(['memory_bytes', 'name', 'pid', 'pm_id', 'restart_count', 'status', 'uptime_ms'])
    expect(JSON.stringify(await agent('e2e-1'))).not.toContain(token)
  })

  it('restarts on POST .../restart and comes back with restart_count one higher', async () => {
    const before = await pm2.get('agentcom-e2e-1')
    const res = await hub.api('POST', '/api/admin/agents/e2e-1/restart', { reason: 'e2e' })
    expect(res).toMatchObject({ status: 200, body: { status: 'restart_commanded', agent_id: 'e2e-1', reason: 'e2e' } })

    await waitUntil(async () => expect((await agent('e2e-1')).restart?.state).toBe('completed'), { timeoutMs: 30_000 })
    const after = await agent('e2e-1')
    expect(after).toMatchObject({ connected: true, status: 'idle', restart: { restart_id: res.body.restart_id } })
    expect(after.pm2_info.restart_count).toBe(before.restart_time + 1)
    expect(after.pm2_info.pid).not.toBe(before.pid)
    const real = await pm2.get('agentcom-e2e-1')
    expect(real).toMatchObject({ status: 'online', restart_time: before.restart_time + 1 })
  })

  it('logs the restart on the hub without any token', async () => {
    const text = hub.logs.join('\n')
    expect(text).toContain('"msg":"restart completed"')
    expect(text).not.toContain(token)
    expect(text).not.toContain(hub.secret)
  })
})
