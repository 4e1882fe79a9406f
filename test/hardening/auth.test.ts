/**
 * The auth matrix against a real hub process (Node and Deno): every kind of bad credential on
 * every admin route and at identify is refused with the contract's answer, the agent whose id
 * an attacker claims keeps its connection, and no token or secret reaches a log line or an
 * error body.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { identifiedSocket, openSocket } from '../../support/ws-client.ts'
import { contractClaims, hs256, makeJwt, nowS, swapPayload, tamperSignature } from './support/jwt.ts'
import { recordFigures } from './support/figures.ts'
import { RUNTIMES } from './support/scale.ts'

const ADMIN_ROUTES: [string, string, unknown?][] = [
  ['GET', '/api/admin/agents'],
  ['GET', '/api/admin/agents/victim'],
  ['POST', '/api/admin/agents/victim/restart', { reason: 'x' }],
  ['POST', '/api/admin/agents/victim/drain'],
  ['POST', '/api/admin/agents/victim/resume'],
  ['POST', '/api/admin/tasks', { input: { n: 1 } }],
  ['GET', '/api/admin/tasks/some-task'],
  ['POST', '/api/admin/rollouts', {}],
  ['GET', '/api/admin/rollouts/some-rollout'],
  ['POST', '/api/admin/rollouts/some-rollout/cancel'],
  ['POST', '/api/admin/agents/victim/tokens', {}],
  ['POST', '/api/admin/agents/victim/revoke'],
  ['POST', '/api/admin/tokens/revoke', { jti: `${'0'.repeat(32)}.0` }],
]

const OTHER_SECRET = 'another-secret-another-secret-another-secret'

describe.each(RUNTIMES)('auth matrix (%s hub)', (runtime) => {
  let hub: HubProcess
  /** Every credential tried, valid or not: none may appear in a log line or an error body. */
  const secrets: string[] = []
  /** Every error body and frame the hub answered. */
  const answers: string[] = []

  beforeAll(async () => {
    hub = await startHubProcess({}, runtime)
    secrets.push(hub.secret)
  })
  afterAll(async () => {
    await hub?.stop()
  })

  /** Bad admin credentials, as Authorization headers (or a query string). */
  async function badAdminCredentials(): Promise<[string, { headers: Record<string, string>; query?: string }][]> {
    const S = hub.secret
    const admin = await hub.adminToken()
    const agent = await hub.agentToken('victim')
    const bearer = (token: string) => {
      secrets.push(token)
      return { headers: { authorization: `Bearer ${token}` } }
    }
    secrets.push(admin, agent)
    // Revoked before the matrix runs: refused though its signature and claims are good.
    const revoked = await mintRevoked('admin')
    const A = (over: Record<string, unknown> = {}) => contractClaims('admin', over)
    return [
      ['no Authorization header', { headers: {} }],
      ['an empty bearer', { headers: { authorization: 'Bearer ' } }],
      ['garbage', bearer('not-a-jwt')],
      ['three garbage segments', bearer('a.b.c')],
      ['a tampered signature', bearer(tamperSignature(admin))],
      ['a tampered payload, signature kept', bearer(swapPayload(admin, A({ x: 1 })))],
      ['an agent token promoted to admin, signature kept', bearer(swapPayload(agent, A({ sub: 'victim' })))],
      ['alg none', bearer(makeJwt({ alg: 'none', typ: 'JWT' }, A(), null))],
      ['alg None', bearer(makeJwt({ alg: 'None' }, A(), null))],
      ['HS512 with the right secret', bearer(makeJwt({ alg: 'HS512', typ: 'JWT' }, A(), S, 'sha512'))],
      ['an RS256 header on an HMAC signature', bearer(makeJwt({ alg: 'RS256', typ: 'JWT' }, A(), S))],
      ['an expired token', bearer(hs256(A({ exp: nowS() - 60 }), S))],
      ['a token not valid yet (nbf)', bearer(hs256(A({ nbf: nowS() + 3600 }), S))],
      ['a token issued in the future (iat)', bearer(hs256(A({ iat: nowS() + 3600, iat_ms: (nowS() + 3600) * 1000 }), S))],
      ['another secret', bearer(hs256(A(), OTHER_SECRET))],
      ['the agent audience on an admin role', bearer(hs256(A({ aud: 'agentcom:agent' }), S))],
      ['no audience', bearer(hs256(A({ aud: undefined }), S))],
      ['another issuer', bearer(hs256(A({ iss: 'someone-else' }), S))],
      ['no jti', bearer(hs256(A({ jti: undefined }), S))],
      ['no iat', bearer(hs256(A({ iat: undefined }), S))],
      ['no exp on an admin token', bearer(hs256(A({ exp: undefined }), S))],
      ['a revoked admin token', bearer(revoked)],
      ['an unknown role', bearer(hs256(A({ role: 'root' }), S))],
      ['no role', bearer(hs256(A({ role: undefined }), S))],
      ['a v1 token (role only)', bearer(hs256({ role: 'admin', iat: nowS() }, S))],
      ['an agent token', bearer(agent)],
      ['the admin token under Basic', { headers: { authorization: `Basic ${admin}` } }],
      ['the admin token twice', { headers: { authorization: `Bearer ${admin} ${admin}` } }],
      ['the admin token in the query string', { headers: {}, query: `?token=${admin}&access_token=${admin}` }],
    ]
  }

  /** A token minted by the hub's own command path and revoked by jti through the API. */
  async function mintRevoked(role: 'admin' | 'agent'): Promise<string> {
    const claims = contractClaims(role, role === 'agent' ? { sub: 'victim' } : {})
    const token = hs256(claims, hub.secret)
    secrets.push(token)
    expect(await hub.api('POST', '/api/admin/tokens/revoke', { jti: claims.jti })).toMatchObject({ status: 200, body: { revoked: true } })
    return token
  }

  async function call(method: string, path: string, body: unknown, cred: { headers: Record<string, string>; query?: string }) {
    const res = await fetch(`${hub.url}${path}${cred.query ?? ''}`, {
      method, headers: { 'content-type': 'application/json', ...cred.headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.text()
    answers.push(text)
    return { status: res.status, text }
  }

  it('refuses every bad credential on every admin route with 401 {"error":"unauthorized"}', async () => {
    const attempts = await badAdminCredentials()
    const wrong: string[] = []
    for (const [method, path, body] of ADMIN_ROUTES) {
      for (const [name, cred] of attempts) {
        const res = await call(method, path, body, cred)
        if (res.status !== 401 || res.text !== '{"error":"unauthorized"}') wrong.push(`${method} ${path} with ${name}: ${res.status} ${res.text}`)
      }
    }
    expect(wrong).toEqual([])
    // The matrix can tell: the real admin token gets through on the same routes.
    const admin = { headers: { authorization: `Bearer ${await hub.adminToken()}` } }
    expect((await call('GET', '/api/admin/agents', undefined, admin)).status).toBe(200)
    expect((await call('POST', '/api/admin/tasks', { input: { n: 1 } }, admin)).status).toBe(201)
    await recordFigures(`auth-http-${runtime}`, { routes: ADMIN_ROUTES.length, credentials: attempts.length, attempts: ADMIN_ROUTES.length * attempts.length, refused: ADMIN_ROUTES.length * attempts.length - wrong.length })
  })

  it('refuses a token once it has expired, though it was accepted (and cached) before', async () => {
    const exp = nowS() + 2
    const token = hs256(contractClaims('admin', { exp }), hub.secret)
    secrets.push(token)
    const cred = { headers: { authorization: `Bearer ${token}` } }
    expect((await call('GET', '/api/admin/agents', undefined, cred)).status).toBe(200)
    // Time itself is what is awaited here: the token's exp, a whole second boundary.
    await new Promise((resolve) => setTimeout(resolve, exp * 1000 + 50 - Date.now()))
    expect(await call('GET', '/api/admin/agents', undefined, cred)).toEqual({ status: 401, text: '{"error":"unauthorized"}' })
  })

  it('refuses every bad token at identify with unauthorized and 4001, and the claimed agent keeps its connection', async () => {
    const S = hub.secret
    const victimToken = await hub.agentToken('victim')
    const other = await hub.agentToken('someone-else')
    secrets.push(victimToken, other)
    const victim = await identifiedSocket(hub.wsUrl, 'victim', victimToken)
    const before = (await hub.api('GET', '/api/admin/agents/victim')).body
    const V = (over: Record<string, unknown> = {}) => contractClaims('agent', { sub: 'victim', ...over })
    const tokens: [string, string][] = [
      ['an empty token', ''],
      ['garbage', 'not-a-jwt'],
      ['a tampered signature', tamperSignature(victimToken)],
      ['another agent\'s token with its payload changed to the victim', swapPayload(other, V())],
      ['alg none', makeJwt({ alg: 'none', typ: 'JWT' }, V(), null)],
      ['HS512 with the right secret', makeJwt({ alg: 'HS512', typ: 'JWT' }, V(), S, 'sha512')],
      ['an expired token', hs256(V({ exp: nowS() - 60 }), S)],
      ['a token not valid yet (nbf)', hs256(V({ nbf: nowS() + 3600 }), S)],
      ['another secret', hs256(V(), OTHER_SECRET)],
      ['the admin audience on an agent role', hs256(V({ aud: 'agentcom:admin' }), S)],
      ['no jti', hs256(V({ jti: undefined }), S)],
      ['no iat_ms', hs256(V({ iat_ms: undefined }), S)],
      ['a revoked agent token of the victim', await mintRevoked('agent')],
      ['a v1 token (sub and role only)', hs256({ sub: 'victim', role: 'agent', iat: nowS() }, S)],
      ['another agent\'s token', other],
      ['the admin token', await hub.adminToken()],
      ['an agent token without sub', hs256(V({ sub: undefined }), S)],
      ['an admin-role token naming the victim', hs256(contractClaims('admin', { sub: 'victim' }), S)],
    ]
    secrets.push(...tokens.map(([, t]) => t).filter((t) => t.length > 8))
    const wrong: string[] = []
    for (const [name, token] of tokens) {
      const socket = await openSocket(hub.wsUrl)
      socket.send({ type: 'identify', agent_id: 'victim', token, protocol_version: 1, pm2_info: null, supervised: true })
      const reply = await socket.next(undefined, 5000).catch((err) => ({ failed: String(err) }))
      const { code } = await socket.closed
      answers.push(JSON.stringify(reply))
      if (JSON.stringify(reply) !== '{"type":"error","error":"unauthorized"}' || code !== 4001) wrong.push(`${name}: ${JSON.stringify(reply)} close ${code}`)
    }
    expect(wrong).toEqual([])

    // A frame without a token is a bad frame, not an identity: refused, and the socket had its one frame (4008).
    const bare = await openSocket(hub.wsUrl)
    bare.send({ type: 'identify', agent_id: 'victim', protocol_version: 1, pm2_info: null, supervised: true })
    expect(await bare.next()).toMatchObject({ type: 'error', error: 'invalid_message', detail: expect.stringMatching(/^token: /) })
    expect((await bare.closed).code).toBe(4008)

    // The victim was never replaced (no 4002), still answers, and is still the same connection.
    victim.send({ type: 'ping' })
    expect(await victim.next('pong')).toEqual({ type: 'pong' })
    const after = (await hub.api('GET', '/api/admin/agents/victim')).body
    expect(after).toMatchObject({ connected: true, connected_at: before.connected_at })
    expect((await hub.api('GET', '/api/admin/agents/someone-else')).status).toBe(404)
    victim.close()
    await recordFigures(`auth-ws-${runtime}`, { attempts: tokens.length + 1, refused_with_4001: tokens.length - wrong.length, victim_disturbed: 0 })
  })

  it('keeps no token in the audit trail where an operator pastes one: as the jti to revoke, or as an agent id', async () => {
    const admin = await hub.adminToken()
    secrets.push(admin)
    // The signed part of a token (header and claims) is what a cut-off copy of it would show.
    const signedPart = admin.split('.').slice(0, 2).join('.')
    expect((await hub.api('POST', '/api/admin/tokens/revoke', { jti: admin })).status).toBe(400)
    expect((await hub.api('POST', `/api/admin/agents/${admin}/revoke`)).status).toBe(400)
    const trail = await hub.api('GET', '/api/admin/audit?limit=2')
    expect(trail.body.records.map((r: { action: string }) => r.action)).toEqual(['agent.revoke', 'token.revoke'])
    const text = JSON.stringify(trail.body)
    expect(text).not.toContain(signedPart.slice(0, 60))
    expect(trail.body.records.map((r: { target: string }) => r.target)).toEqual(['[redacted]', '[redacted]'])
  })

  it('never writes a token or the secret to its logs or to an error body', () => {
    const logs = hub.logs.join('\n')
    const found = secrets.filter((s) => s.length > 8 && (logs.includes(s) || answers.some((a) => a.includes(s))))
    expect(secrets.length).toBeGreaterThan(30)
    expect(answers.length).toBeGreaterThan(200)
    expect(found).toEqual([])
    // The grep can fail: the refusals were logged (one line per peer per 10 s, v3), without the token.
    expect(logs).toMatch(/"msg":"(admin request|identify) refused",("agent_id":"[^"]+",)?"peer":"127\.0\.0\.1:\d+"/)
  })
})
