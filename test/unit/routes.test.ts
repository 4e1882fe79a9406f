/**
 * Every admin route and status code through Hono's testClient on the exported app type.
 * Agents join through the fleet's own identify path with a recording Peer: the seam the
 * socket layer uses (the socket layer itself is tested in test/e2e/ws-protocol.test.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { testClient } from 'hono/testing'
import type { Hub } from '../../hub/app.ts'
import { createTestHub, type OneHub } from '../../support/in-process-hub.ts'
import { signAdminToken, signAgentToken } from '../../hub/auth/auth.ts'
import type { HubMessage } from '../../shared/protocol.ts'
import { silentLogger } from '../../shared/log.ts'

const SECRET = 's'.repeat(40)

let hub: OneHub
let client: ReturnType<typeof testClient<Hub['app']>>
let auth: { headers: { authorization: string } }

function connect(agentId: string, opts: { supervised?: boolean; restart_count?: number; pid?: number } = {}) {
  const sent: HubMessage[] = []
  const closes: number[] = []
  const peer = { send: (m: HubMessage) => sent.push(m), close: (code: number) => closes.push(code) }
  hub.fleet.identify(agentId, peer, {
    supervised: opts.supervised ?? true,
    instance_id: 'i-1',
    pm2_info: {
      name: `agentcom-${agentId}`, pm_id: 1, pid: opts.pid ?? 1000, status: 'online', uptime_ms: 5,
      restart_count: opts.restart_count ?? 0, memory_bytes: 1,
    },
  })
  hub.tasks.identified(hub.fleet.get(agentId)!, null)
  return { peer, sent, closes }
}

beforeEach(async () => {
  hub = createTestHub({ secret: SECRET, log: silentLogger })
  client = testClient(hub.app)
  auth = { headers: { authorization: `Bearer ${await signAdminToken(SECRET)}` } }
})
afterEach(() => hub.close())

describe('health and auth', () => {
  it('answers /health without auth', async () => {
    const res = await client.health.$get()
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ok' })
  })

  it.each([
    ['no header', {}],
    ['garbage', { authorization: 'Bearer nope' }],
    ['a non-bearer scheme', { authorization: 'Basic YTpi' }],
  ])('refuses %s with 401 unauthorized', async (_name, headers) => {
    const res = await client.api.admin.agents.$get({}, { headers: headers as Record<string, string> })
    expect(res.status).toBe(401)
    expect(await res.json()).toEqual({ error: 'unauthorized' })
  })

  it('never accepts an agent token on an admin route, and never echoes it', async () => {
    const token = await signAgentToken(SECRET, 'a-1')
    const res = await client.api.admin.agents.$get({}, { headers: { authorization: `Bearer ${token}` } })
    expect(res.status).toBe(401)
    expect(await res.text()).not.toContain(token)
  })

  it('refuses a token signed with another secret', async () => {
    const forged = await signAdminToken('o'.repeat(40))
    const res = await client.api.admin.agents.$get({}, { headers: { authorization: `Bearer ${forged}` } })
    expect(res.status).toBe(401)
  })

  it('answers a plain GET /ws with 426 upgrade_required', async () => {
    const res = await hub.app.request('/ws')
    expect(res.status).toBe(426)
    expect(await res.json()).toMatchObject({ error: 'upgrade_required' })
  })

  it('answers unknown paths with JSON 404', async () => {
    const res = await hub.app.request('/nope')
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({ error: 'not_found' })
  })
})

describe('agents', () => {
  it('lists agents, connected or not', async () => {
    connect('a-1')
    const gone = connect('a-2')
    hub.fleet.disconnect(hub.fleet.get('a-2')!, gone.peer)
    const res = await client.api.admin.agents.$get({}, auth)
    expect(res.status).toBe(200)
    const { agents } = await res.json()
    expect(agents.map((a) => [a.agent_id, a.connected, a.status])).toEqual([
      ['a-1', true, 'idle'],
      ['a-2', false, 'offline'],
    ])
  })

  it('gets one agent with the contract fields, or 404 agent_not_found', async () => {
    connect('a-1')
    const res = await client.api.admin.agents[':agent_id'].$get({ param: { agent_id: 'a-1' } }, auth)
    expect(res.status).toBe(200)
    const body = await res.json()
    expect(Object.keys(body)).toEqual(expect.arrayContaining(
      ['agent_id', 'connected', 'status', 'connected_at', 'last_seen', 'pm2_info', 'restart'],
    ))
    // A single hub names itself as the agent's hub, as each hub of a cluster does.
    expect((body as { hub_id?: string }).hub_id).toBe(hub.hubId)
    const missing = await client.api.admin.agents[':agent_id'].$get({ param: { agent_id: 'zzz' } }, auth)
    expect(missing.status).toBe(404)
    expect(await missing.json()).toEqual({ error: 'agent_not_found' })
  })

  it('answers an invalid agent id with 400 invalid_request', async () => {
    const res = await client.api.admin.agents[':agent_id'].$get({ param: { agent_id: 'bad id!' } }, auth)
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: 'invalid_request', issues: [{ path: 'agent_id' }] })
  })
})

describe('restart', () => {
  const restart = (agent_id: string, json?: Record<string, unknown>) =>
    client.api.admin.agents[':agent_id'].restart.$post({ param: { agent_id }, json: json as never }, auth)

  it('commands a restart with the default reason and pushes restart_sidecar', async () => {
    const { sent } = connect('a-1')
    const res = await restart('a-1')
    expect(res.status).toBe(200)
    const body = await res.json()
    expect(body).toMatchObject({ status: 'restart_commanded', agent_id: 'a-1', reason: 'admin_commanded' })
    expect(sent).toContainEqual(expect.objectContaining({ type: 'restart_sidecar', restart_id: (body as any).restart_id }))
  })

  it('does not command a pending restart twice', async () => {
    const { sent } = connect('a-1')
    const first = await (await restart('a-1', { reason: 'one' })).json()
    const second = await (await restart('a-1', { reason: 'two' })).json()
    expect((second as any).restart_id).toBe((first as any).restart_id)
    expect(sent.filter((m) => m.type === 'restart_sidecar')).toHaveLength(1)
  })

  it('answers 404 agent_not_connected and 409 not_supervised', async () => {
    const notConnected = await restart('ghost')
    expect(notConnected.status).toBe(404)
    expect(await notConnected.json()).toEqual({ error: 'agent_not_connected' })
    connect('loose', { supervised: false })
    const loose = await restart('loose')
    expect(loose.status).toBe(409)
    expect(await loose.json()).toEqual({ error: 'not_supervised' })
  })

  it.each([
    ['an empty reason', { reason: '' }],
    ['a reason over 200 characters', { reason: 'x'.repeat(201) }],
    ['an unknown mode', { mode: 'gentle' }],
    ['a negative deadline', { deadline_s: -1 }],
  ])('answers %s with 400 invalid_request', async (_name, json) => {
    connect('a-1')
    const res = await restart('a-1', json)
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: 'invalid_request', issues: [expect.objectContaining({ message: expect.any(String) })] })
    expect(hub.fleet.get('a-1')!.restart).toBeNull()
  })

  it('never echoes a huge bad value whole', async () => {
    connect('a-1')
    const res = await hub.app.request('/api/admin/agents/a-1/restart', {
      method: 'POST', body: JSON.stringify({ mode: 'x'.repeat(100_000) }), headers: auth.headers,
    })
    expect(res.status).toBe(400)
    expect((await res.text()).length).toBeLessThan(1000)
  })

  it('answers malformed JSON with 400 and changes nothing', async () => {
    connect('a-1')
    const res = await hub.app.request('/api/admin/agents/a-1/restart', { method: 'POST', body: '{"reason":', headers: auth.headers })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ error: 'invalid_request', issues: [{ path: '', message: 'body is not valid JSON' }] })
    expect(hub.fleet.get('a-1')!.restart).toBeNull()
  })

  it('answers a JSON array body with 400 and commands nothing', async () => {
    connect('a-1')
    const res = await hub.app.request('/api/admin/agents/a-1/restart', { method: 'POST', body: '[]', headers: auth.headers })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ error: 'invalid_request', issues: [{ path: '', message: 'body must be a JSON object' }] })
    expect(hub.fleet.get('a-1')!.restart).toBeNull()
  })

  it('reads a JSON body sent with curl\'s default form content type', async () => {
    connect('a-1')
    const res = await hub.app.request('/api/admin/agents/a-1/restart', {
      method: 'POST', body: '{"reason":"deploy"}',
      headers: { ...auth.headers, 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(await res.json()).toMatchObject({ reason: 'deploy' })
  })
})

describe('tasks', () => {
  it('creates a task (201) and gets it, or 404 task_not_found', async () => {
    const res = await client.api.admin.tasks.$post({ json: { input: { x: 1 } } }, auth)
    expect(res.status).toBe(201)
    const task = await res.json()
    expect(task).toMatchObject({ status: 'queued', input: { x: 1 }, agent_id: null, attempts: 0, result: null, error: null })
    const got = await client.api.admin.tasks[':task_id'].$get({ param: { task_id: (task as any).task_id } }, auth)
    expect(await got.json()).toEqual(task)
    const missing = await client.api.admin.tasks[':task_id'].$get({ param: { task_id: 'nope' } }, auth)
    expect(missing.status).toBe(404)
    expect(await missing.json()).toEqual({ error: 'task_not_found' })
  })

  it('assigns a queued task to an idle agent', async () => {
    const { sent } = connect('a-1')
    const task = await (await client.api.admin.tasks.$post({ json: { input: 'hi' } }, auth)).json()
    await Promise.resolve()
    expect(sent).toContainEqual(expect.objectContaining({ type: 'task_assign', task_id: (task as any).task_id, input: 'hi' }))
  })

  it.each([
    ['no input', {}],
    ['input over 64 KiB', { input: 'x'.repeat(64 * 1024) }],
    ['an invalid agent id', { input: 1, agent_id: 'no spaces' }],
    ['a non-integer timeout', { input: 1, timeout_ms: 1.5 }],
  ])('answers %s with 400', async (_name, json) => {
    const res = await client.api.admin.tasks.$post({ json: json as never }, auth)
    expect(res.status).toBe(400)
    expect((await res.json() as any).error).toBe('invalid_request')
    expect(hub.tasks.size).toBe(0)
  })

  it('answers input nested too deeply to serialize with 400, not 500', async () => {
    const res = await hub.app.request('/api/admin/tasks', {
      method: 'POST', body: `{"input":${'['.repeat(20_000)}${']'.repeat(20_000)}}`, headers: auth.headers,
    })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: 'invalid_request', issues: [{ message: 'input is larger than 64 KiB or nested too deeply' }] })
    expect(hub.tasks.size).toBe(0)
  })

  it('answers a body over the request limit with 413', async () => {
    const res = await hub.app.request('/api/admin/tasks', {
      method: 'POST', body: JSON.stringify({ input: 'x'.repeat(2 * 1024 * 1024) }),
      headers: { ...auth.headers, 'content-type': 'application/json' },
    })
    expect(res.status).toBe(413)
    expect(await res.json()).toMatchObject({ error: 'payload_too_large' })
  })
})

describe('drain and resume', () => {
  it('a drained agent gets no new task until resumed', async () => {
    const { sent } = connect('a-1')
    const drained = await client.api.admin.agents[':agent_id'].drain.$post({ param: { agent_id: 'a-1' } }, auth)
    expect(await drained.json()).toMatchObject({ agent_id: 'a-1', drained: true })
    await client.api.admin.tasks.$post({ json: { input: 1 } }, auth)
    await Promise.resolve()
    expect(sent.some((m) => m.type === 'task_assign')).toBe(false)
    const resumed = await client.api.admin.agents[':agent_id'].resume.$post({ param: { agent_id: 'a-1' } }, auth)
    expect(await resumed.json()).toMatchObject({ drained: false })
    await Promise.resolve()
    expect(sent.some((m) => m.type === 'task_assign')).toBe(true)
  })

  it('answers 404 for an unknown agent', async () => {
    const res = await client.api.admin.agents[':agent_id'].drain.$post({ param: { agent_id: 'ghost' } }, auth)
    expect(res.status).toBe(404)
  })
})
