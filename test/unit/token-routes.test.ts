/**
 * The credential routes through Hono's testClient: minting agent tokens, revoking an agent
 * (its live connection is closed 4001; a token minted right after works, even in the same
 * millisecond) and revoking one token by jti. A fake clock drives time; the peer address
 * comes through the createHub seam and lands in the log of every refusal.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { testClient } from 'hono/testing'
import type { Hub } from '../../hub/app.ts'
import { createTestHub } from '../../support/in-process-hub.ts'
import { createTokenVerifier, mintToken, signAdminToken } from '../../hub/auth/auth.ts'
import { createLogger } from '../../shared/log.ts'
import type { HubMessage } from '../../shared/protocol.ts'

const SECRET = 's'.repeat(40)
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0, 250)

let hub: Hub
let client: ReturnType<typeof testClient<Hub['app']>>
let auth: { headers: { authorization: string } }
let logs: any[]
const clock = { at: T0, now: () => clock.at }

beforeEach(async () => {
  clock.at = T0
  logs = []
  hub = createTestHub({
    secret: SECRET, clock, remoteAddress: () => '203.0.113.7:40000',
    log: createLogger('hub', (line) => logs.push(JSON.parse(line))),
  })
  client = testClient(hub.app)
  auth = { headers: { authorization: `Bearer ${(await mintToken(SECRET, { role: 'admin' }, T0)).token}` } }
})
afterEach(() => hub.close())

function connect(agentId: string) {
  const sent: HubMessage[] = []
  const closes: number[] = []
  hub.fleet.identify(agentId, { send: (m) => sent.push(m), close: (code) => closes.push(code) }, { supervised: true, instance_id: 'i', pm2_info: null })
  return { sent, closes }
}

const tokens = (agentId: string, json?: object) =>
  client.api.admin.agents[':agent_id'].tokens.$post({ param: { agent_id: agentId }, ...(json ? { json } : {}) } as never, auth)
const verify = createTokenVerifier(SECRET, { clock })

describe('POST /api/admin/agents/:agent_id/tokens', () => {
  it('mints an agent token for an agent the hub has never seen, without expiry by default', async () => {
    const res = await tokens('never-seen')
    expect(res.status).toBe(201)
    const body = await res.json() as any
    expect(body).toEqual({ agent_id: 'never-seen', token: expect.any(String), jti: expect.any(String), issued_at: T0, expires_at: null })
    expect(await verify(body.token, 'agent')).toMatchObject({ ok: true, claims: { sub: 'never-seen', jti: body.jti } })
    // Never logged.
    expect(JSON.stringify(logs)).not.toContain(body.token)
  })

  it('takes ttl_s', async () => {
    const body = await (await tokens('w-1', { ttl_s: 90 })).json() as any
    expect(body.expires_at).toBe((Math.floor(T0 / 1000) + 90) * 1000)
  })

  it.each([{ ttl_s: 0 }, { ttl_s: 1.5 }, { ttl_s: '60' }, { ttl_s: 366 * 86_400 }])('answers 400 invalid_request for %j', async (json) => {
    const res = await tokens('w-1', json)
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: 'invalid_request' })
  })

  it('is an admin route: an agent token is refused, and the refusal is logged with the peer address', async () => {
    const agent = (await mintToken(SECRET, { role: 'agent', sub: 'w-1' }, T0)).token
    const res = await client.api.admin.agents[':agent_id'].tokens.$post({ param: { agent_id: 'w-1' }, json: undefined }, { headers: { authorization: `Bearer ${agent}` } })
    expect(res.status).toBe(401)
    expect(await res.json()).toEqual({ error: 'unauthorized' })
    expect(logs).toContainEqual(expect.objectContaining({ msg: 'admin request refused', peer: '203.0.113.7:40000', reason: 'wrong_audience' }))
    expect(JSON.stringify(logs)).not.toContain(agent)
  })
})

describe('POST /api/admin/agents/:agent_id/revoke', () => {
  it('refuses the agent\'s tokens from now on, closes its connection with 4001, and accepts a token minted right after', async () => {
    const before = (await (await tokens('w-1')).json() as any).token
    const live = connect('w-1')
    const res = await client.api.admin.agents[':agent_id'].revoke.$post({ param: { agent_id: 'w-1' } }, auth)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ agent_id: 'w-1', revoked_before: T0 })
    expect(live.sent).toContainEqual({ type: 'error', error: 'unauthorized' })
    expect(live.closes).toEqual([4001])
    const hubVerify = createTokenVerifier(SECRET, { clock, revocations: hub.revocations })
    expect(await hubVerify(before, 'agent')).toEqual({ ok: false, reason: 'revoked' })
    // Same millisecond on the clock: the route mints it after the cut-off all the same.
    const after = await (await tokens('w-1')).json() as any
    expect(after.issued_at).toBe(T0 + 1)
    expect((await hubVerify(after.token, 'agent')).ok).toBe(true)
  })

  it('leaves other agents alone', async () => {
    const other = connect('w-2')
    await client.api.admin.agents[':agent_id'].revoke.$post({ param: { agent_id: 'w-1' } }, auth)
    expect(other.closes).toEqual([])
    expect(hub.fleet.get('w-2')!.peer).not.toBeNull()
  })
})

describe('POST /api/admin/tokens/revoke', () => {
  it('refuses that one token from now on, an admin token too', async () => {
    const admin = await mintToken(SECRET, { role: 'admin' }, T0)
    const spare = { headers: { authorization: `Bearer ${admin.token}` } }
    expect((await client.api.admin.agents.$get({}, spare)).status).toBe(200)
    const res = await client.api.admin.tokens.revoke.$post({ json: { jti: admin.jti } }, auth)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ jti: admin.jti, revoked: true })
    expect(await (await client.api.admin.agents.$get({}, spare)).json()).toEqual({ error: 'unauthorized' })
    expect(logs).toContainEqual(expect.objectContaining({ msg: 'admin request refused', reason: 'revoked', peer: '203.0.113.7:40000' }))
    expect((await client.api.admin.agents.$get({}, auth)).status).toBe(200)
  })

  it.each([{}, { jti: '' }, { jti: 'not-ours' }, { jti: 42 }])('answers 400 invalid_request for %j', async (json) => {
    const res = await client.api.admin.tokens.revoke.$post({ json } as never, auth)
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: 'invalid_request' })
  })

  it('refuses an expired admin token', async () => {
    const short = await signAdminToken(SECRET, 60)
    clock.at = Date.now() + 61_000
    const res = await client.api.admin.agents.$get({}, { headers: { authorization: `Bearer ${short}` } })
    expect(res.status).toBe(401)
    expect(logs).toContainEqual(expect.objectContaining({ msg: 'admin request refused', reason: 'expired' }))
  })
})
