/**
 * The access routes through the app: POST /api/admin/tokens mints a named token with a role
 * that works at once for that role only, refuses bad input with 400 (and mints nothing); GET
 * /api/admin/audit filters and pages, newest first; GET /api/admin/whoami.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Hub } from '../../hub/app.ts'
import { createTestHub } from '../../support/in-process-hub.ts'
import { createTokenVerifier, mintToken } from '../../hub/auth/auth.ts'
import { createLogger } from '../../shared/log.ts'

const SECRET = 's'.repeat(40)
const T0 = Date.UTC(2026, 0, 1, 12)
const clock = { at: T0, now: () => clock.at }

let hub: Hub
let logs: string[]
let admin: string

beforeEach(async () => {
  logs = []
  hub = createTestHub({ secret: SECRET, clock, log: createLogger('hub', (l) => logs.push(l)) })
  admin = (await mintToken(SECRET, { role: 'admin', access: 'admin', name: 'root' }, T0)).token
})
afterEach(() => hub.close())

async function call(method: string, path: string, body?: unknown, token = admin) {
  const res = await hub.app.request(path, { method, headers: { authorization: `Bearer ${token}` }, body: body === undefined ? undefined : JSON.stringify(body) })
  return { status: res.status, body: await res.json() as any }
}

describe('POST /api/admin/tokens', () => {
  it('mints a named token with its role, which works at once for that role only', async () => {
    const res = await call('POST', '/api/admin/tokens', { role: 'operator', name: 'alice', ttl_s: 3600 })
    expect(res).toEqual({ status: 201, body: { token: expect.any(String), jti: expect.any(String), role: 'operator', name: 'alice', expires_at: (Math.floor(T0 / 1000) + 3600) * 1000 } })
    expect(await createTokenVerifier(SECRET, { clock })(res.body.token, 'admin')).toMatchObject({ ok: true, claims: { access: 'operator', name: 'alice' } })
    expect((await call('POST', '/api/admin/healing/pause', undefined, res.body.token)).status).toBe(200)
    expect(await call('POST', '/api/admin/tasks', { input: 1 }, res.body.token)).toEqual({ status: 403, body: { error: 'forbidden', required_role: 'admin' } })
    expect(logs.join('\n')).not.toContain(res.body.token)
    expect(JSON.stringify((await hub.audit.list({}, null, 10)).records)).not.toContain(res.body.token)
  })

  it('takes 24 h when no ttl_s is given', async () => {
    expect((await call('POST', '/api/admin/tokens', { role: 'viewer', name: 'tv' })).body.expires_at).toBe((Math.floor(T0 / 1000) + 86_400) * 1000)
  })

  it.each([
    [{ name: 'x' }], [{ role: 'root', name: 'x' }], [{ role: 'viewer' }], [{ role: 'viewer', name: '' }],
    [{ role: 'viewer', name: 'has space' }], [{ role: 'viewer', name: 'x'.repeat(65) }], [{ role: 'viewer', name: 'x', ttl_s: 0 }],
  ])('answers 400 invalid_request to %j and mints nothing', async (body) => {
    const res = await call('POST', '/api/admin/tokens', body)
    expect(res.status).toBe(400)
    expect(res.body.error).toBe('invalid_request')
    expect(res.body.token).toBeUndefined()
  })
})

describe('GET /api/admin/audit', () => {
  it('filters by actor, action and target, newest first, and pages with next_cursor', async () => {
    const viewer = (await mintToken(SECRET, { role: 'admin', access: 'viewer', name: 'tv' }, T0)).token
    for (let i = 0; i < 5; i++) await call('POST', `/api/admin/agents/w-${i}/drain`)
    await call('POST', '/api/admin/agents/w-1/drain', undefined, viewer)
    const byViewer = await call('GET', '/api/admin/audit?actor=tv')
    expect(byViewer.body.records.map((r: any) => [r.action, r.target, r.status])).toEqual([['agent.drain', 'w-1', 403]])
    expect((await call('GET', '/api/admin/audit?target=w-1&actor=root')).body.records.map((r: any) => r.status)).toEqual([404])
    const first = await call('GET', '/api/admin/audit?action=agent.drain&limit=4')
    expect(first.body.records.map((r: any) => r.target)).toEqual(['w-1', 'w-4', 'w-3', 'w-2'])
    const second = await call('GET', `/api/admin/audit?action=agent.drain&limit=4&cursor=${first.body.next_cursor}`)
    expect(second.body).toEqual({ records: [expect.objectContaining({ target: 'w-1', actor: { name: 'root', role: 'admin', jti: expect.any(String) } }), expect.objectContaining({ target: 'w-0' })], next_cursor: null })
  })

  it.each(['limit=0', 'limit=1001', 'limit=x', 'cursor=abc', 'cursor=0', `actor=${'a'.repeat(201)}`])('answers 400 to ?%s', async (q) => {
    expect((await call('GET', `/api/admin/audit?${q}`)).status).toBe(400)
  })
})

describe('GET /api/admin/whoami', () => {
  it('names the token and the routes of the table its role may use', async () => {
    const viewer = await mintToken(SECRET, { role: 'admin', access: 'viewer', name: 'tv' }, T0)
    const res = await call('GET', '/api/admin/whoami', undefined, viewer.token)
    expect(res.body).toMatchObject({ name: 'tv', role: 'viewer', jti: viewer.jti, expires_at: viewer.expiresAtMs })
    expect(res.body.routes).toContain('GET /api/admin/agents')
    expect(res.body.routes.filter((r: string) => !r.startsWith('GET '))).toEqual([])
  })
})
