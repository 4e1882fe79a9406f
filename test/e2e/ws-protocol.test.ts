/**
 * The WebSocket protocol against a real hub process (Node or Deno, per AGENTCOM_TEST_RUNTIME)
 * on port 0, with real `ws` clients.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitUntil } from '../../support/wait.ts'
import { identifiedSocket, openSocket } from '../../support/ws-client.ts'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'

let hub: HubProcess
const tokensUsed: string[] = []

beforeAll(async () => {
  hub = await startHubProcess({ AGENTCOM_IDENTIFY_TIMEOUT_MS: '1500', AGENTCOM_RESTART_TIMEOUT_S: '2' })
})
afterAll(async () => {
  await hub?.stop()
})

async function agent(agentId: string, extra: Record<string, unknown> = {}) {
  const token = await hub.agentToken(agentId)
  tokensUsed.push(token)
  return identifiedSocket(hub.wsUrl, agentId, token, extra)
}

const pm2Info = (restart_count: number, pid: number) => ({
  name: 'agentcom-x', pm_id: 3, pid, status: 'online', uptime_ms: 1000, restart_count, memory_bytes: 1e7,
})

describe(`identify (${process.env.AGENTCOM_TEST_RUNTIME ?? 'node'} hub)`, () => {
  it('accepts a signed agent token and lists the agent as connected and idle', async () => {
    const socket = await agent('ident-1', { pm2_info: pm2Info(0, 100) })
    const res = await hub.api('GET', '/api/admin/agents/ident-1')
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({
      agent_id: 'ident-1', connected: true, status: 'idle', pm2_info: pm2Info(0, 100), restart: null,
    })
    expect(typeof res.body.connected_at).toBe('number')
    socket.close()
  })

  it("takes pm2's own view reported after identify as the agent's pm2_info", async () => {
    const socket = await agent('ident-pm2', { pm2_info: { ...pm2Info(2, 150), memory_bytes: null } })
    socket.send({ type: 'pm2_info', pm2_info: pm2Info(2, 150) })
    await waitUntil(async () => expect((await hub.api('GET', '/api/admin/agents/ident-pm2')).body.pm2_info).toEqual(pm2Info(2, 150)))
    socket.close()
  })

  it('refuses another agent\'s token with unauthorized and close 4001', async () => {
    const socket = await openSocket(hub.wsUrl)
    const token = await hub.agentToken('someone-else')
    tokensUsed.push(token)
    socket.send({ type: 'identify', agent_id: 'victim', token, protocol_version: 1, pm2_info: null, supervised: true })
    expect(await socket.next()).toEqual({ type: 'error', error: 'unauthorized' })
    expect((await socket.closed).code).toBe(4001)
    expect((await hub.api('GET', '/api/admin/agents/victim')).status).toBe(404)
  })

  it.each([
    ['an admin token', async () => hub.adminToken()],
    ['garbage', async () => 'not-a-jwt'],
    ['a token signed with another secret', async () => {
      const { signAgentToken } = await import('../../hub/auth/auth.ts')
      return signAgentToken('x'.repeat(40), 'forged')
    }],
  ])('refuses %s at identify', async (_name, makeToken) => {
    const socket = await openSocket(hub.wsUrl)
    socket.send({ type: 'identify', agent_id: 'forged', token: await makeToken(), protocol_version: 1, pm2_info: null, supervised: true })
    expect(await socket.next()).toEqual({ type: 'error', error: 'unauthorized' })
    expect((await socket.closed).code).toBe(4001)
  })

  it('closes a connection that does not identify in time with 4008', async () => {
    const socket = await openSocket(hub.wsUrl)
    expect(await socket.closed).toMatchObject({ code: 4008 })
  })

  it('replaces the first connection of an agent with the second (4002)', async () => {
    const first = await agent('twin')
    const second = await agent('twin')
    expect((await first.closed).code).toBe(4002)
    second.send({ type: 'ping' })
    expect(await second.next()).toEqual({ type: 'pong' })
    expect((await hub.api('GET', '/api/admin/agents/twin')).body.connected).toBe(true)
    second.close()
  })

  it('remembers an agent after it disconnects, as offline', async () => {
    const socket = await agent('leaver')
    socket.close()
    await socket.closed
    await waitUntil(async () => expect((await hub.api('GET', '/api/admin/agents/leaver')).body).toMatchObject({
      connected: false, status: 'offline',
    }))
  })
})

describe('bad frames', () => {
  it.each([
    ['malformed JSON', '{"type":', 'invalid_json'],
    ['an unknown type', '{"type":"launch_missiles"}', 'unknown_type'],
    ['a wrong field type', '{"type":"task_accepted","task_id":42}', 'invalid_message'],
    ['a JSON array', '[1,2,3]', 'invalid_message'],
    ['deep nesting', `${'['.repeat(5000)}${']'.repeat(5000)}`, 'invalid_message'],
  ])('answers %s with an error and keeps the connection', async (_name, frame, error) => {
    const socket = await agent(`bad-${error}`)
    socket.sendRaw(frame)
    const reply = await socket.next('error')
    expect(reply.error).toBe(error)
    socket.send({ type: 'ping' })
    expect(await socket.next('pong')).toEqual({ type: 'pong' })
    socket.close()
  })

  it('answers a binary frame with invalid_message', async () => {
    const socket = await agent('binary')
    socket.sendRaw(Buffer.from([1, 2, 3]), { binary: true })
    expect((await socket.next('error')).error).toBe('invalid_message')
    socket.close()
  })

  it('answers a first frame other than identify with not_identified and closes with 4008', async () => {
    const socket = await openSocket(hub.wsUrl)
    socket.send({ type: 'ping' })
    expect(await socket.next()).toMatchObject({ type: 'error', error: 'not_identified' })
    expect((await socket.closed).code).toBe(4008)
  })

  it('closes with 1009 an identify over 16 KiB', async () => {
    const socket = await openSocket(hub.wsUrl)
    socket.send({ type: 'identify', agent_id: 'big', token: await hub.agentToken('big'), protocol_version: 1, pm2_info: null, supervised: true, pad: 'x'.repeat(16 * 1024) })
    expect((await socket.closed).code).toBe(1009)
  })

  it('closes on a frame over 256 KiB with 1009, leaving other agents connected', async () => {
    const bystander = await agent('bystander')
    const socket = await agent('big')
    socket.sendRaw(JSON.stringify({ type: 'ping', pad: 'x'.repeat(256 * 1024) }))
    expect((await socket.closed).code).toBe(1009)
    bystander.send({ type: 'ping' })
    expect(await bystander.next('pong')).toEqual({ type: 'pong' })
    bystander.close()
  })
})

describe('restart', () => {
  it('pushes restart_sidecar and completes when the agent comes back with a higher restart_count', async () => {
    const socket = await agent('rs-1', { pm2_info: pm2Info(4, 200) })
    const res = await hub.api('POST', '/api/admin/agents/rs-1/restart', { reason: 'deploy 42' })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ status: 'restart_commanded', agent_id: 'rs-1', reason: 'deploy 42' })
    const push = await socket.next('restart_sidecar')
    expect(push).toMatchObject({ type: 'restart_sidecar', reason: 'deploy 42', restart_id: res.body.restart_id })

    const again = await hub.api('POST', '/api/admin/agents/rs-1/restart', {})
    expect(again.body.restart_id).toBe(res.body.restart_id)

    socket.send({ type: 'agent_restarting', reason: 'deploy 42', restart_id: res.body.restart_id })
    await waitUntil(async () => expect((await hub.api('GET', '/api/admin/agents/rs-1')).body.status).toBe('restarting'))
    socket.ws.close(1012, 'restarting')
    await socket.closed

    const back = await agent('rs-1', { pm2_info: pm2Info(5, 201) })
    const after = (await hub.api('GET', '/api/admin/agents/rs-1')).body
    expect(after).toMatchObject({ status: 'idle', connected: true, restart: { restart_id: res.body.restart_id, state: 'completed' } })
    back.close()
  })

  it('fails a restart whose agent does not come back within the timeout', async () => {
    const socket = await agent('rs-gone', { pm2_info: pm2Info(0, 300) })
    const res = await hub.api('POST', '/api/admin/agents/rs-gone/restart')
    await socket.next('restart_sidecar')
    socket.ws.close(1012)
    await waitUntil(async () => expect((await hub.api('GET', '/api/admin/agents/rs-gone')).body.restart.state).toBe('failed'), { timeoutMs: 8000 })
    expect(res.status).toBe(200)
  })

  it('resends a pending restart to the same process when its connection drops and returns', async () => {
    const socket = await agent('rs-blip', { pm2_info: pm2Info(1, 400) })
    const res = await hub.api('POST', '/api/admin/agents/rs-blip/restart')
    await socket.next('restart_sidecar')
    socket.ws.terminate()
    await socket.closed
    const again = await agent('rs-blip', { pm2_info: pm2Info(1, 400) })
    expect((await again.next('restart_sidecar')).restart_id).toBe(res.body.restart_id)
    again.close()
  })

  it('answers 404 agent_not_connected and 409 not_supervised', async () => {
    expect(await hub.api('POST', '/api/admin/agents/nobody/restart')).toEqual({ status: 404, body: { error: 'agent_not_connected' } })
    const socket = await agent('loose', { supervised: false })
    expect(await hub.api('POST', '/api/admin/agents/loose/restart')).toEqual({ status: 409, body: { error: 'not_supervised' } })
    socket.close()
  })
})

describe('logs', () => {
  it('never contain a token', () => {
    expect(tokensUsed.length).toBeGreaterThan(3)
    const text = hub.logs.join('\n')
    for (const token of tokensUsed) expect(text).not.toContain(token)
    expect(text).not.toContain(hub.secret)
  })
})

describe('logs when the hub stops', () => {
  it('come out whole: the lines still in the batch are written before the process ends', async () => {
    const own = await startHubProcess()
    try {
      const ws = await identifiedSocket(own.wsUrl, 'last-words', await own.agentToken('last-words'))
      ws.close()
    } finally {
      // At once: the identify's line is still in its batch (up to 20 ms, shared/log-output.ts).
      await own.stop()
    }
    // The pipe may still hold them when the process has exited.
    const messages = () => own.logs.filter((line) => line.startsWith('{')).map((line) => (JSON.parse(line) as { msg: string }).msg)
    await waitUntil(() => expect(messages()).toEqual(expect.arrayContaining(['agent identified', 'hub stopping'])), { timeoutMs: 3000 })
    expect(messages().indexOf('agent identified')).toBeLessThan(messages().indexOf('hub stopping'))
  })
})
