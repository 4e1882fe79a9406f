/**
 * Tokens and revocations (hub/auth/auth.ts, hub/auth/revocations.ts) on a fake clock: the claims a token
 * carries, what the verifier refuses and why, the cache that never outlives an expiry or a
 * revoke, and the revocation file that survives a restart and forgets what has expired.
 */
import { describe, expect, it } from 'vitest'
import { sign } from 'hono/jwt'
import { AUDIENCE, DEFAULT_ADMIN_TTL_S, MAX_TTL_S, createTokenVerifier, jtiExpiry, mintToken } from '../../hub/auth/auth.ts'
import { REVOCATIONS_FILE, createMemoryRevocationStore, openFileRevocationStore } from '../../hub/auth/revocations.ts'
import type { StateFiles } from '../../hub/tasks/task-store.ts'
import { ConfigError } from '../../shared/settings.ts'
import { nodeTokenMac } from '../../hub/node/platform.ts'
import { silentLogger } from '../../shared/log.ts'

const SECRET = 'k'.repeat(40)
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0, 500)

function fakeClock(at = T0) {
  const clock = { at, now: () => clock.at }
  return clock
}

const decodePayload = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())

describe('minting', () => {
  it('gives an admin token every claim, a unique jti and a 24 h expiry by default', async () => {
    const a = await mintToken(SECRET, { role: 'admin' }, T0)
    const b = await mintToken(SECRET, { role: 'admin' }, T0)
    const claims = decodePayload(a.token)
    expect(claims).toEqual({
      iss: 'agentcom', aud: 'agentcom:admin', jti: a.jti, iat: Math.floor(T0 / 1000), iat_ms: T0,
      exp: Math.floor(T0 / 1000) + DEFAULT_ADMIN_TTL_S, role: 'admin', sub: 'admin',
    })
    expect(a.jti).not.toBe(b.jti)
    expect(a.expiresAtMs).toBe(claims.exp * 1000)
    expect(jtiExpiry(a.jti)).toBe(a.expiresAtMs)
  })

  it('gives an agent token sub and no exp unless a TTL is asked for', async () => {
    const forever = await mintToken(SECRET, { role: 'agent', sub: 'w-1' }, T0)
    expect(decodePayload(forever.token)).toMatchObject({ aud: 'agentcom:agent', sub: 'w-1', role: 'agent' })
    expect(decodePayload(forever.token)).not.toHaveProperty('exp')
    expect(forever.expiresAtMs).toBeNull()
    expect(jtiExpiry(forever.jti)).toBeNull()
    const hour = await mintToken(SECRET, { role: 'agent', sub: 'w-1', ttlS: 3600 }, T0)
    expect(decodePayload(hour.token).exp).toBe(Math.floor(T0 / 1000) + 3600)
  })

  it.each([0, -1, 1.5, MAX_TTL_S + 1])('refuses a TTL of %s s', async (ttlS) => {
    await expect(mintToken(SECRET, { role: 'admin', ttlS })).rejects.toThrow(RangeError)
  })
})

/** A compact JWS of these header and payload objects, MAC'd with `secret`. */
async function jws(header: object, payload: object, secret = SECRET): Promise<string> {
  const b64 = (x: object) => Buffer.from(JSON.stringify(x)).toString('base64url')
  const input = `${b64(header)}.${b64(payload)}`
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  return `${input}.${Buffer.from(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(input))).toString('base64url')}`
}

// The Node hub verifies with node:crypto's HMAC, the portable core (and Deno) with WebCrypto.
describe.each([['WebCrypto', undefined], ['node:crypto', nodeTokenMac(SECRET)]])('the signature, checked with %s', (_name, mac) => {
  const verifier = () => createTokenVerifier(SECRET, { clock: fakeClock(), mac })
  const goodClaims = async () => decodePayload((await mintToken(SECRET, { role: 'admin' }, T0)).token)

  it('accepts a token of our secret and refuses one of another secret or with a changed payload', async () => {
    const verify = verifier()
    const good = (await mintToken(SECRET, { role: 'admin' }, T0)).token
    expect(await verify(good, 'admin')).toMatchObject({ ok: true })
    expect(await verify(await jws({ alg: 'HS256', typ: 'JWT' }, await goodClaims(), 'o'.repeat(40)), 'admin')).toEqual({ ok: false, reason: 'bad_signature' })
    const [h, , sig] = good.split('.')
    const other = Buffer.from(JSON.stringify({ ...(await goodClaims()), role: 'admin', iss: 'agentcom' })).toString('base64url')
    expect(await verify(`${h}.${other}.${sig}`, 'admin')).toEqual({ ok: false, reason: 'bad_signature' })
    expect(await verify(`${good.slice(0, -2)}AA`, 'admin')).toEqual({ ok: false, reason: 'bad_signature' })
  })

  it.each([
    ['alg none', { alg: 'none' }],
    ['alg HS512', { alg: 'HS512', typ: 'JWT' }],
    ['another typ', { alg: 'HS256', typ: 'at+jwt' }],
    ['a crit header', { alg: 'HS256', crit: ['exp'] }],
  ])('refuses a header with %s, even with a right MAC', async (_case, header) => {
    expect(await verifier()(await jws(header, await goodClaims()), 'admin')).toEqual({ ok: false, reason: 'malformed' })
  })

  it.each([
    ['two parts', 'a.b'],
    ['four parts', 'a.b.c.d'],
    ['a payload that is no JSON', `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.bm90IGpzb24.AA`],
    ['a payload that is an array', `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.${Buffer.from('[1]').toString('base64url')}.AA`],
    ['a signature that is no base64', `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.%%%`],
  ])('refuses %s as malformed', async (_case, token) => {
    expect(await verifier()(token, 'admin')).toEqual({ ok: false, reason: 'malformed' })
  })
  it('now(): the same verdicts, at once with a synchronous MAC and as a promise with WebCrypto', async () => {
    const verify = verifier()
    const good = (await mintToken(SECRET, { role: 'agent', sub: 'w-1' }, T0)).token
    const forged = `${good.slice(0, -2)}AA`
    for (const [token, verdict] of [[good, { ok: true }], [forged, { ok: false, reason: 'bad_signature' }], ['x.y', { ok: false, reason: 'malformed' }]] as const) {
      const now = verify.now(token, 'agent')
      expect(now instanceof Promise).toBe(mac === undefined && token !== 'x.y')
      expect(await now).toMatchObject(verdict)
      expect(await verify(token, 'agent')).toMatchObject(verdict)
    }
  })
})

describe('verifying', () => {
  it('accepts a token for its own audience only', async () => {
    const verify = createTokenVerifier(SECRET, { clock: fakeClock() })
    const admin = await mintToken(SECRET, { role: 'admin' }, T0)
    const agent = await mintToken(SECRET, { role: 'agent', sub: 'w-1' }, T0)
    expect(await verify(admin.token, 'admin')).toEqual({
      ok: true, claims: { role: 'admin', access: 'admin', name: 'admin', jti: admin.jti, issuedAtMs: T0, expiresAtMs: admin.expiresAtMs },
    })
    expect(await verify(agent.token, 'agent')).toMatchObject({ ok: true, claims: { role: 'agent', sub: 'w-1' } })
    expect(await verify(admin.token, 'agent')).toEqual({ ok: false, reason: 'wrong_audience' })
    expect(await verify(agent.token, 'admin')).toEqual({ ok: false, reason: 'wrong_audience' })
  })

  /** A token signed with the right secret whose claims are those of a good admin token, changed. */
  async function forged(change: (claims: Record<string, unknown>) => void) {
    const good = decodePayload((await mintToken(SECRET, { role: 'admin' }, T0)).token)
    change(good)
    return sign(good, SECRET, 'HS256')
  }

  it.each([
    ['no iss', (c: any) => delete c.iss, 'missing_claims'],
    ['another iss', (c: any) => (c.iss = 'someone'), 'missing_claims'],
    ['no aud', (c: any) => delete c.aud, 'wrong_audience'],
    ['the agent audience on an admin role', (c: any) => (c.aud = AUDIENCE.agent), 'wrong_audience'],
    ['no jti', (c: any) => delete c.jti, 'missing_claims'],
    ['a jti not of our shape', (c: any) => (c.jti = 'abc'), 'malformed'],
    ['a jti naming another expiry', (c: any) => (c.exp += 10), 'malformed'],
    ['no iat', (c: any) => delete c.iat, 'missing_claims'],
    ['no iat_ms', (c: any) => delete c.iat_ms, 'missing_claims'],
    ['no exp on an admin token', (c: any) => {
      delete c.exp
      c.jti = c.jti.replace(/\.\d+$/, '.0')
    }, 'missing_claims'],
    ['no role', (c: any) => delete c.role, 'missing_claims'],
    ['an unknown role', (c: any) => (c.role = 'root'), 'missing_claims'],
  ])('refuses a token with %s', async (_name, change, reason) => {
    const verify = createTokenVerifier(SECRET, { clock: fakeClock() })
    expect(await verify(await forged(change), 'admin')).toEqual({ ok: false, reason })
  })

  it('reads a payload that is not ASCII as UTF-8', async () => {
    const verify = createTokenVerifier(SECRET, { clock: fakeClock() })
    const verdict = await verify(await forged((c) => (c.sub = 'zoë-日本-😀')), 'admin')
    expect(verdict).toMatchObject({ ok: true, claims: { name: 'zoë-日本-😀' } })
  })

  it('refuses an agent token without sub, and garbage or another secret', async () => {
    const verify = createTokenVerifier(SECRET, { clock: fakeClock() })
    const noSub = decodePayload((await mintToken(SECRET, { role: 'agent', sub: 'x' }, T0)).token)
    delete noSub.sub
    expect(await verify(await sign(noSub, SECRET, 'HS256'), 'agent')).toEqual({ ok: false, reason: 'missing_claims' })
    expect(await verify('a.b.c', 'admin')).toEqual({ ok: false, reason: 'malformed' })
    expect(await verify((await mintToken('o'.repeat(40), { role: 'admin' }, T0)).token, 'admin')).toEqual({ ok: false, reason: 'bad_signature' })
  })

  it('refuses a token once expired, on the hub\'s clock, though it was cached before', async () => {
    const clock = fakeClock()
    const verify = createTokenVerifier(SECRET, { clock })
    const { token, expiresAtMs } = await mintToken(SECRET, { role: 'admin', ttlS: 60 }, T0)
    expect((await verify(token, 'admin')).ok).toBe(true)
    clock.at = expiresAtMs! - 1
    expect((await verify(token, 'admin')).ok).toBe(true)
    clock.at = expiresAtMs!
    expect(await verify(token, 'admin')).toEqual({ ok: false, reason: 'expired' })
  })

  it('refuses a token issued in the future or not valid yet', async () => {
    const clock = fakeClock()
    const verify = createTokenVerifier(SECRET, { clock })
    const later = await mintToken(SECRET, { role: 'admin' }, T0 + 60_000)
    expect(await verify(later.token, 'admin')).toEqual({ ok: false, reason: 'not_yet_valid' })
    const nbf = await forged((c) => (c.nbf = Math.floor(T0 / 1000) + 60))
    expect(await verify(nbf, 'admin')).toEqual({ ok: false, reason: 'not_yet_valid' })
  })
})

describe('revocations', () => {
  it('refuses a revoked jti at once, cached or not', async () => {
    const clock = fakeClock()
    const revocations = createMemoryRevocationStore(clock)
    const verify = createTokenVerifier(SECRET, { clock, revocations })
    const a = await mintToken(SECRET, { role: 'admin' }, T0)
    const b = await mintToken(SECRET, { role: 'admin' }, T0)
    expect((await verify(a.token, 'admin')).ok).toBe(true)
    await revocations.revokeToken(a.jti)
    expect(await verify(a.token, 'admin')).toEqual({ ok: false, reason: 'revoked' })
    expect((await verify(b.token, 'admin')).ok).toBe(true)
  })

  it('answers at once from the cache with every check of a full verify: expiry, audience, revocation', async () => {
    const clock = fakeClock()
    const revocations = createMemoryRevocationStore(clock)
    const verify = createTokenVerifier(SECRET, { clock, revocations })
    const a = await mintToken(SECRET, { role: 'admin', ttlS: 60 }, T0)
    const b = await mintToken(SECRET, { role: 'admin' }, T0)
    const agent = await mintToken(SECRET, { role: 'agent', sub: 'w-1' }, T0)
    // Never verified, or never cached (agent tokens): no answer without the signature check.
    expect(verify.cached(a.token, 'admin')).toBeUndefined()
    expect((await verify(agent.token, 'agent')).ok).toBe(true)
    expect(verify.cached(agent.token, 'agent')).toBeUndefined()
    expect((await verify(a.token, 'admin')).ok).toBe(true)
    expect((await verify(b.token, 'admin')).ok).toBe(true)
    expect(verify.cached(a.token, 'admin')).toMatchObject({ ok: true, claims: { jti: a.jti } })
    expect(verify.cached(a.token, 'agent')).toEqual({ ok: false, reason: 'wrong_audience' })
    // A token one character off is not the cached one.
    expect(verify.cached(`${a.token}x`, 'admin')).toBeUndefined()
    await revocations.revokeToken(b.jti)
    expect(verify.cached(b.token, 'admin')).toEqual({ ok: false, reason: 'revoked' })
    expect(verify.cached(a.token, 'admin')?.ok).toBe(true)
    clock.at = a.expiresAtMs!
    expect(verify.cached(a.token, 'admin')).toEqual({ ok: false, reason: 'expired' })
    // Dropped once expired: only a full verify answers for it again, and refuses it.
    expect(verify.cached(a.token, 'admin')).toBeUndefined()
    expect(await verify(a.token, 'admin')).toEqual({ ok: false, reason: 'expired' })
  })

  it('refuses every token of an agent issued up to the revoke, and accepts one issued a millisecond later', async () => {
    const clock = fakeClock()
    const revocations = createMemoryRevocationStore(clock)
    const verify = createTokenVerifier(SECRET, { clock, revocations })
    const old = await mintToken(SECRET, { role: 'agent', sub: 'w-1' }, T0 - 5000)
    const sameMs = await mintToken(SECRET, { role: 'agent', sub: 'w-1' }, T0)
    const other = await mintToken(SECRET, { role: 'agent', sub: 'w-2' }, T0)
    expect((await verify(old.token, 'agent')).ok).toBe(true)
    expect(await revocations.revokeAgent('w-1')).toBe(T0)
    expect(revocations.revokedBefore('w-1')).toBe(T0)
    expect(await verify(old.token, 'agent')).toEqual({ ok: false, reason: 'revoked' })
    expect(await verify(sameMs.token, 'agent')).toEqual({ ok: false, reason: 'revoked' })
    expect((await verify(other.token, 'agent')).ok).toBe(true)
    // Same second, one millisecond later: accepted.
    const fresh = await mintToken(SECRET, { role: 'agent', sub: 'w-1' }, T0 + 1)
    expect(Math.floor((T0 + 1) / 1000)).toBe(Math.floor(T0 / 1000))
    expect((await verify(fresh.token, 'agent')).ok).toBe(true)
  })

  it('never moves an agent\'s cut-off back when the clock steps backwards', async () => {
    const clock = fakeClock()
    const revocations = createMemoryRevocationStore(clock)
    await revocations.revokeAgent('w-1')
    clock.at = T0 - 10_000
    expect(await revocations.revokeAgent('w-1')).toBe(T0)
  })

  it('refuses to revoke a jti this hub never mints', async () => {
    await expect(createMemoryRevocationStore(fakeClock()).revokeToken('nope')).rejects.toThrow(RangeError)
  })
})

describe('the revocation file', () => {
  function memoryFiles() {
    const files = new Map<string, string>()
    const io: StateFiles & { files: Map<string, string>; fail: boolean } = {
      files,
      fail: false,
      read: async (path) => files.get(path) ?? null,
      writeAtomic: async (path, text) => {
        if (io.fail) throw new Error('ENOSPC')
        files.set(path, text)
      },
    }
    return io
  }
  const PATH = `/data/${REVOCATIONS_FILE}`

  it('survives a restart: a hub opened on the same file refuses what the last one revoked', async () => {
    const clock = fakeClock()
    const io = memoryFiles()
    const first = await openFileRevocationStore(PATH, io, clock, silentLogger)
    const admin = await mintToken(SECRET, { role: 'admin' }, T0)
    const agent = await mintToken(SECRET, { role: 'agent', sub: 'w-1' }, T0)
    await first.revokeToken(admin.jti)
    await first.revokeAgent('w-1')
    const second = await openFileRevocationStore(PATH, io, clock, silentLogger)
    const verify = createTokenVerifier(SECRET, { clock, revocations: second })
    expect(await verify(admin.token, 'admin')).toEqual({ ok: false, reason: 'revoked' })
    expect(await verify(agent.token, 'agent')).toEqual({ ok: false, reason: 'revoked' })
  })

  it('forgets a revoked jti once its token has expired, and keeps one that never expires', async () => {
    const clock = fakeClock()
    const io = memoryFiles()
    const store = await openFileRevocationStore(PATH, io, clock, silentLogger)
    const short = await mintToken(SECRET, { role: 'admin', ttlS: 60 }, T0)
    const forever = await mintToken(SECRET, { role: 'agent', sub: 'w-1' }, T0)
    await store.revokeToken(short.jti)
    await store.revokeToken(forever.jti)
    expect(Object.keys(JSON.parse(io.files.get(PATH)!).tokens)).toEqual([short.jti, forever.jti])
    clock.at = short.expiresAtMs!
    await store.revokeAgent('w-2')
    expect(Object.keys(JSON.parse(io.files.get(PATH)!).tokens)).toEqual([forever.jti])
  })

  it('is in force before it is saved, and a failed save rejects', async () => {
    const clock = fakeClock()
    const io = memoryFiles()
    const store = await openFileRevocationStore(PATH, io, clock, silentLogger)
    const verify = createTokenVerifier(SECRET, { clock, revocations: store })
    const agent = await mintToken(SECRET, { role: 'agent', sub: 'w-1' }, T0)
    io.fail = true
    await expect(store.revokeAgent('w-1')).rejects.toThrow('ENOSPC')
    expect(await verify(agent.token, 'agent')).toEqual({ ok: false, reason: 'revoked' })
    io.fail = false
    await store.revokeAgent('w-3')
    expect(JSON.parse(io.files.get(PATH)!).agents).toEqual({ 'w-1': T0, 'w-3': T0 })
  })

  it.each(['{not json', '{"version":1,"agents":{"w":"x"},"tokens":{}}', '[]'])('stops the hub on a file it cannot trust: %s', async (text) => {
    const io = memoryFiles()
    io.files.set(PATH, text)
    await expect(openFileRevocationStore(PATH, io, fakeClock(), silentLogger)).rejects.toThrow(ConfigError)
  })
})
