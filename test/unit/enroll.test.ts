/**
 * Enrollment on one hub: join tokens minted by an admin, traded at POST /api/enroll for agent
 * tokens, refused everywhere else, at most max_uses times (concurrent requests included, and
 * across a restart through the data dir's file), never for an id outside the prefix or one
 * the hub knows, enrolled ones included (exactly one of concurrent enrollments of an id, known
 * durably before the 201). A fake clock drives expiry.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Hub } from '../../hub/app.ts'
import { createTestHub } from '../../support/in-process-hub.ts'
import { createTokenVerifier, mintToken } from '../../hub/auth/auth.ts'
import { JOIN_USES_FILE, openFileJoinUses } from '../../hub/enroll/join-uses.ts'
import { nodeStateFiles } from '../../hub/node/platform.ts'
import { createLogger, silentLogger } from '../../shared/log.ts'

const SECRET = 'e'.repeat(40)
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0, 0)
const clock = { at: T0, now: () => clock.at }

let hub: Hub
let logs: string[]
let admin: string
let dataDir: string

const OFFLINE_TTL_MS = 3_600_000

async function startHub(): Promise<Hub> {
  const joinUses = await openFileJoinUses(join(dataDir, JOIN_USES_FILE), nodeStateFiles, clock, silentLogger)
  return createTestHub({
    secret: SECRET, clock, joinUses, offlineTtlMs: OFFLINE_TTL_MS, log: createLogger('hub', (line) => logs.push(line)),
  })
}

beforeEach(async () => {
  clock.at = T0
  logs = []
  dataDir = await mkdtemp(join(tmpdir(), 'agentcom-enroll-'))
  hub = await startHub()
  admin = (await mintToken(SECRET, { role: 'admin' }, T0)).token
})
afterEach(async () => {
  hub.close()
  await rm(dataDir, { recursive: true, force: true })
})

async function call(path: string, token: string, body?: unknown) {
  const res = await hub.app.request(path, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, body: await res.json() as any }
}
const joinToken = async (body: object = {}) => (await call('/api/admin/join-tokens', admin, body)).body
const enroll = (token: string, agentId: string) => call('/api/enroll', token, { agent_id: agentId })

describe('POST /api/admin/join-tokens', () => {
  it('mints a join token: one use and an hour by default', async () => {
    const res = await call('/api/admin/join-tokens', admin)
    expect(res).toEqual({ status: 201, body: { token: expect.any(String), jti: expect.stringMatching(/^[0-9a-f]{32}\.\d+$/), expires_at: T0 + 3_600_000, max_uses: 1 } })
    const claims = JSON.parse(Buffer.from(res.body.token.split('.')[1], 'base64url').toString())
    expect(claims).toMatchObject({ iss: 'agentcom', aud: 'agentcom:join', role: 'join', jti: res.body.jti })
    expect(logs.join('\n')).not.toContain(res.body.token)
  })

  it.each([
    [{ ttl_s: 59 }], [{ ttl_s: 2_592_001 }], [{ max_uses: 0 }], [{ max_uses: 10_001 }], [{ labels: ['no way'] }], [{ prefix: '' }], [{ prefix: 'a b' }],
  ])('refuses %j with 400 invalid_request', async (body) => {
    expect(await call('/api/admin/join-tokens', admin, body)).toMatchObject({ status: 400, body: { error: 'invalid_request' } })
  })

  it('needs an admin token', async () => {
    const { token } = await joinToken()
    expect(await call('/api/admin/join-tokens', token)).toEqual({ status: 401, body: { error: 'unauthorized' } })
  })
})

describe('POST /api/enroll', () => {
  it('answers an agent token for the id, with the join token\'s labels; the join token is accepted nowhere else', async () => {
    const { token } = await joinToken({ labels: ['gpu', 'zone=eu-1'] })
    const res = await enroll(token, 'worker-1')
    expect(res).toEqual({ status: 201, body: { agent_id: 'worker-1', token: expect.any(String), jti: expect.any(String), labels: ['gpu', 'zone=eu-1'] } })
    const verify = createTokenVerifier(SECRET, { clock })
    expect(await verify(res.body.token, 'agent')).toMatchObject({ ok: true, claims: { sub: 'worker-1', jti: res.body.jti, expiresAtMs: null } })
    expect((await verify(token, 'agent')).ok).toBe(false)
    expect((await verify(token, 'admin')).ok).toBe(false)
    const asAdmin = await hub.app.request('/api/admin/agents', { headers: { authorization: `Bearer ${token}` } })
    expect(asAdmin.status).toBe(401)
    // An agent token cannot enroll.
    expect(await enroll(res.body.token, 'worker-2')).toEqual({ status: 401, body: { error: 'unauthorized' } })
    expect(logs.join('\n')).not.toContain(res.body.token)
    expect(logs.join('\n')).not.toContain(token)
  })

  it('enrolls at most max_uses agents, concurrent requests included, and spends no use on a refused request', async () => {
    const { token } = await joinToken({ max_uses: 2, prefix: 'w-' })
    expect((await enroll(token, 'other-1')).status).toBe(400)
    const results = await Promise.all(['w-1', 'w-2', 'w-3', 'w-4', 'w-5'].map((id) => enroll(token, id)))
    expect(results.map((r) => r.status).sort()).toEqual([201, 201, 401, 401, 401])
    expect(results.filter((r) => r.status === 401).map((r) => r.body)).toEqual([{ error: 'unauthorized' }, { error: 'unauthorized' }, { error: 'unauthorized' }])
  })

  it('leaves one audit record per request with a valid join token, allowed or refused, and none for a bad token', async () => {
    const { token, jti } = await joinToken({ prefix: 'a-' })
    expect((await enroll(token, 'a-1')).status).toBe(201)
    expect((await enroll(token, 'b-1')).status).toBe(400)
    expect((await enroll('not-a-token', 'a-2')).status).toBe(401)
    const enrolls = (await hub.audit.list({ action: 'enroll' }, null, 10)).records
    expect(enrolls.map((r) => [r.actor, r.target, r.status])).toEqual([[{ join_jti: jti }, 'b-1', 400], [{ join_jti: jti }, 'a-1', 201]])
    expect(JSON.stringify(enrolls)).not.toContain(token)
  })

  it('keeps the uses across a hub restart (the data dir\'s file)', async () => {
    const { token, jti, expires_at } = await joinToken({ max_uses: 2 })
    expect((await enroll(token, 'r-1')).status).toBe(201)
    hub.close()
    hub = await startHub()
    expect((await enroll(token, 'r-2')).status).toBe(201)
    hub.close()
    hub = await startHub()
    expect((await enroll(token, 'r-3')).status).toBe(401)
    expect(JSON.parse(await readFile(join(dataDir, JOIN_USES_FILE), 'utf8')).tokens).toEqual({ [jti]: { uses: 2, expires_at } })
  })

  it('refuses an id the hub already knows with 409 agent_exists, spending no use', async () => {
    hub.fleet.identify('known-1', { send: () => {}, close: () => {} }, { supervised: true, instance_id: 'i', pm2_info: null })
    const { token } = await joinToken()
    expect(await enroll(token, 'known-1')).toEqual({ status: 409, body: { error: 'agent_exists' } })
    expect((await enroll(token, 'new-1')).status).toBe(201)
  })

  it('refuses an expired join token, a revoked one, a bad body and a missing token', async () => {
    const expiring = (await joinToken({ ttl_s: 60 })).token
    clock.at = T0 + 60_000
    expect((await enroll(expiring, 'x-1')).status).toBe(401)
    clock.at = T0
    const revoked = await joinToken({ max_uses: 5 })
    expect((await call('/api/admin/tokens/revoke', admin, { jti: revoked.jti })).status).toBe(200)
    expect((await enroll(revoked.token, 'x-2')).status).toBe(401)
    const { token } = await joinToken()
    expect(await call('/api/enroll', token, { agent_id: 'bad id' })).toMatchObject({ status: 400, body: { error: 'invalid_request' } })
    expect(await call('/api/enroll', token, {})).toMatchObject({ status: 400, body: { error: 'invalid_request' } })
    expect((await hub.app.request('/api/enroll', { method: 'POST', body: '{"agent_id":"x-3"}' })).status).toBe(401)
    const forged = `${token.slice(0, -4)}AAAA`
    expect((await enroll(forged, 'x-4')).status).toBe(401)
    // The same signature bytes spelled otherwise: the last character's unused bits set.
    const last = token.at(-1)!
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const respelled = `${token.slice(0, -1)}${alphabet[alphabet.indexOf(last) ^ 1]}`
    expect(Buffer.from(respelled.split('.')[2], 'base64url')).toEqual(Buffer.from(token.split('.')[2], 'base64url'))
    expect((await enroll(respelled, 'x-6')).status).toBe(401)
    expect((await enroll(token, 'x-5')).status).toBe(201)
  })

  it('of concurrent enrollments of one new id, enrolls exactly one; the others get 409 and spend no use', async () => {
    const { token, jti } = await joinToken({ max_uses: 10 })
    const results = await Promise.all(Array.from({ length: 8 }, () => enroll(token, 'same-1')))
    expect(results.filter((r) => r.status === 201)).toHaveLength(1)
    expect(results.filter((r) => r.status !== 201)).toEqual(Array(7).fill({ status: 409, body: { error: 'agent_exists' } }))
    expect(JSON.parse(await readFile(join(dataDir, JOIN_USES_FILE), 'utf8')).tokens[jti].uses).toBe(1)
    // Enrolled before it ever connects: known from then on, on this token or another.
    expect(await enroll(token, 'same-1')).toEqual({ status: 409, body: { error: 'agent_exists' } })
    expect(await enroll((await joinToken()).token, 'same-1')).toEqual({ status: 409, body: { error: 'agent_exists' } })
    expect((await enroll(token, 'same-2')).status).toBe(201)
  })

  it('leaves the id free when the join token is used up', async () => {
    const { token } = await joinToken()
    expect((await enroll(token, 'spent-1')).status).toBe(201)
    expect((await enroll(token, 'spent-2')).status).toBe(401)
    expect((await enroll((await joinToken()).token, 'spent-2')).status).toBe(201)
  })

  it('knows an enrolled id durably before the 201: a hub restarted right after refuses it', async () => {
    const { token } = await joinToken({ max_uses: 3 })
    expect((await enroll(token, 'durable-1')).status).toBe(201)
    // Saved when the 201 was sent, not on some later save.
    expect(Object.keys(JSON.parse(await readFile(join(dataDir, JOIN_USES_FILE), 'utf8')).agents)).toEqual(['durable-1'])
    hub.close()
    hub = await startHub()
    expect(await enroll(token, 'durable-1')).toEqual({ status: 409, body: { error: 'agent_exists' } })
    expect((await enroll(token, 'durable-2')).status).toBe(201)
  })

  it('forgets an enrolled id whose agent never connected after the offline TTL, as it forgets an offline agent', async () => {
    const { token } = await joinToken({ max_uses: 2, ttl_s: 7200 })
    expect((await enroll(token, 'gone-1')).status).toBe(201)
    clock.at = T0 + OFFLINE_TTL_MS - 1
    expect((await enroll(token, 'gone-1')).status).toBe(409)
    clock.at = T0 + OFFLINE_TTL_MS
    expect((await enroll(token, 'gone-1')).status).toBe(201)
    expect(Object.keys(JSON.parse(await readFile(join(dataDir, JOIN_USES_FILE), 'utf8')).agents)).toEqual(['gone-1'])
  })
})
