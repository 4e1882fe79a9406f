/**
 * Rolling restarts on a real pm2 with five sidecars (and one whose pm2 app does not
 * autorestart, so it never comes back).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { createPm2Sandbox, type Pm2Sandbox } from '../../support/pm2.ts'
import { waitFor } from '../../support/wait.ts'

let hub: HubProcess
let pm2: Pm2Sandbox
const FLEET = ['r-1', 'r-2', 'r-3', 'r-4', 'r-5']

beforeAll(async () => {
  hub = await startHubProcess({ AGENTCOM_RESTART_TIMEOUT_S: '4' })
  pm2 = await createPm2Sandbox()
  for (const id of FLEET) {
    await pm2.startSidecar(id, { AGENTCOM_HUB_URL: hub.wsUrl, AGENTCOM_TOKEN: await hub.agentToken(id) })
  }
  await pm2.startSidecarWith('r-dead', { AGENTCOM_HUB_URL: hub.wsUrl, AGENTCOM_TOKEN: await hub.agentToken('r-dead') }, { autorestart: false })
  for (const id of [...FLEET, 'r-dead']) {
    await waitFor(() => agent(id), (a) => a.status === 'idle', { what: `${id} idle`, timeoutMs: 40_000 })
  }
})

afterAll(async () => {
  await pm2?.kill()
  await hub?.stop()
})

const agent = async (id: string) => (await hub.api('GET', `/api/admin/agents/${id}`)).body
const rollout = async (id: string) => (await hub.api('GET', `/api/admin/rollouts/${id}`)).body
const restartCounts = async (ids: string[]) =>
  Object.fromEntries(await Promise.all(ids.map(async (id) => [id, (await pm2.get(`agentcom-${id}`)).restart_time])))
const UNAVAILABLE = new Set(['commanded', 'deferred', 'restarting'])

describe('rollouts under a real pm2', () => {
  it('restarts every agent exactly once, in order, never more than max_unavailable at a time', async () => {
    const before = await restartCounts(FLEET)
    const res = await hub.api('POST', '/api/admin/rollouts', { agent_ids: FLEET, max_unavailable: 2, reason: 'deploy' })
    expect(res.status).toBe(201)
    expect(res.body).toMatchObject({ state: 'running', reason: 'deploy', max_unavailable: 2 })
    expect(res.body.agents.map((a: any) => a.agent_id)).toEqual(FLEET)

    let maxDown = 0
    let maxOffline = 0
    const firstCommanded: string[] = []
    const final = await waitFor(async () => {
      const [r, agents] = await Promise.all([rollout(res.body.rollout_id), hub.api('GET', '/api/admin/agents')])
      maxDown = Math.max(maxDown, r.agents.filter((a: any) => UNAVAILABLE.has(a.state)).length)
      const offline = agents.body.agents.filter((a: any) => FLEET.includes(a.agent_id) && a.status !== 'idle' && a.status !== 'working')
      maxOffline = Math.max(maxOffline, offline.length)
      for (const a of r.agents) if (a.state !== 'waiting' && !firstCommanded.includes(a.agent_id)) firstCommanded.push(a.agent_id)
      return r
    }, (r) => r.state !== 'running', { timeoutMs: 60_000, intervalMs: 20, what: 'rollout to end' })

    expect(final.state).toBe('completed')
    expect(final.agents.every((a: any) => a.state === 'completed' && typeof a.restart_id === 'string')).toBe(true)
    expect(maxDown).toBeGreaterThan(0)
    expect(maxDown).toBeLessThanOrEqual(2)
    expect(maxOffline).toBeLessThanOrEqual(2)
    expect(firstCommanded).toEqual(FLEET)
    const after = await restartCounts(FLEET)
    for (const id of FLEET) expect(after[id]).toBe(before[id] + 1)
  })

  it('cancel lets commanded restarts finish and starts no new ones', async () => {
    const before = await restartCounts(FLEET)
    const res = await hub.api('POST', '/api/admin/rollouts', { agent_ids: FLEET, max_unavailable: 1 })
    const cancelled = await hub.api('POST', `/api/admin/rollouts/${res.body.rollout_id}/cancel`)
    expect(cancelled).toMatchObject({ status: 200, body: { state: 'cancelled' } })
    await waitFor(() => agent('r-1'), (a) => a.restart?.state === 'completed', { what: 'r-1 back' })
    const r = await rollout(res.body.rollout_id)
    expect(r.agents.map((a: any) => a.state)).toEqual(['completed', 'waiting', 'waiting', 'waiting', 'waiting'])
    const after = await restartCounts(FLEET)
    expect(after).toEqual({ ...before, 'r-1': before['r-1'] + 1 })
  })

  it('fails when an agent does not come back, and spares the rest', async () => {
    const before = await restartCounts(['r-2', 'r-3'])
    const res = await hub.api('POST', '/api/admin/rollouts', { agent_ids: ['r-dead', 'r-2', 'r-3'] })
    expect(res.status).toBe(201)
    const final = await waitFor(() => rollout(res.body.rollout_id), (r) => r.state !== 'running', { timeoutMs: 30_000 })
    expect(final.state).toBe('failed')
    expect(final.agents.map((a: any) => a.state)).toEqual(['failed', 'waiting', 'waiting'])
    expect(await restartCounts(['r-2', 'r-3'])).toEqual(before)
    expect((await agent('r-dead')).status).toBe('offline')
  })

  it.each([
    [{ max_unavailable: 0 }, 400],
    [{ max_unavailable: 1.5 }, 400],
    [{ agent_ids: [] }, 400],
    [{ agent_ids: ['r-1', 'r-1'] }, 400],
    [{ agent_ids: ['bad id'] }, 400],
    [{ mode: 'nope' }, 400],
    [{ agent_ids: ['never-seen'] }, 404],
  ])('refuses %j with %i', async (body, status) => {
    const res = await hub.api('POST', '/api/admin/rollouts', body)
    expect(res.status).toBe(status)
    expect(res.body.error).toBe(status === 400 ? 'invalid_request' : 'agent_not_found')
  })

  it('answers 404 rollout_not_found', async () => {
    expect(await hub.api('GET', '/api/admin/rollouts/nope')).toEqual({ status: 404, body: { error: 'rollout_not_found' } })
    expect((await hub.api('POST', '/api/admin/rollouts/nope/cancel')).status).toBe(404)
  })
})
