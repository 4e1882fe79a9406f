/**
 * Tokens: HS256 JWTs signed with the hub's secret (CONTRACT.md, "Tokens"). Minting here is
 * shared by the hub's token route, the token command and `npm start`; verifying checks the
 * signature, every claim, the expiry on the hub's clock, and the revocations.
 *
 * Claims: iss, aud, jti, iat, exp (admin always; agent when a TTL was asked for), sub (agent
 * tokens), role, and `iat_ms`, the issue time in milliseconds. An agent's revoke refuses every
 * token of that agent with `iat_ms` at or before its cut-off; seconds (`iat`) could not tell
 * a token minted just before a revoke from one minted just after it in the same second.
 *
 * The jti carries the token's expiry (`<32 hex>.<exp in s, 0 = none>`): a revocation by jti
 * alone then knows when it may be forgotten, without ever having seen the token.
 */
import { sign } from 'hono/jwt'
import type { Clock } from '../../shared/time.ts'
import { systemClock } from '../../shared/time.ts'
import { DEFAULT_TOKEN_NAME, isAccessRole, type AccessRole } from '../access/roles.ts'
import { canonicalBase64Url } from './base64url.ts'

export const ISSUER = 'agentcom'
export const AUDIENCE = { admin: 'agentcom:admin', agent: 'agentcom:agent' } as const
export type Role = keyof typeof AUDIENCE

export const DEFAULT_ADMIN_TTL_S = 24 * 3600
export const MAX_TTL_S = 365 * 24 * 3600
/** A token issued this far in the future is refused (the hub and the token command share a clock). */
const MAX_CLOCK_SKEW_MS = 5000

/**
 * `role` here is the audience ('admin' for every admin-audience token); what an admin-audience
 * token may do is its `access` (the `role` claim: viewer, operator or admin), and `name` is its
 * `sub` (who holds it; v2 admin tokens had neither and are admin, named "admin").
 */
export type TokenClaims =
  | { role: 'admin'; access: AccessRole; name: string; jti: string; issuedAtMs: number; expiresAtMs: number }
  | { role: 'agent'; sub: string; jti: string; issuedAtMs: number; expiresAtMs: number | null }

export interface MintedToken {
  token: string
  jti: string
  issuedAtMs: number
  expiresAtMs: number | null
}

export type MintRequest =
  | { role: 'admin'; ttlS?: number; access?: AccessRole; name?: string }
  | { role: 'agent'; sub: string; ttlS?: number }

/**
 * Signs one token. Admin tokens expire after `ttlS` (default 24 h); agent tokens only with a
 * `ttlS`. `issuedAtMs` defaults to now; the hub passes a later one right after a revoke.
 */
export async function mintToken(secret: string, req: MintRequest, issuedAtMs = Date.now()): Promise<MintedToken> {
  const ttlS = req.role === 'admin' ? (req.ttlS ?? DEFAULT_ADMIN_TTL_S) : req.ttlS
  if (ttlS !== undefined && (!Number.isInteger(ttlS) || ttlS < 1 || ttlS > MAX_TTL_S)) {
    throw new RangeError(`ttl must be a whole number of seconds from 1 to ${MAX_TTL_S}`)
  }
  const iat = Math.floor(issuedAtMs / 1000)
  const exp = ttlS === undefined ? null : iat + ttlS
  const jti = `${randomHex(16)}.${exp ?? 0}`
  const payload: Record<string, unknown> = { iss: ISSUER, aud: AUDIENCE[req.role], jti, iat, iat_ms: issuedAtMs, role: req.role }
  if (exp !== null) payload.exp = exp
  if (req.role === 'agent') payload.sub = req.sub
  else {
    payload.role = req.access ?? 'admin'
    payload.sub = req.name ?? DEFAULT_TOKEN_NAME
  }
  return { token: await sign(payload, secret, 'HS256'), jti, issuedAtMs, expiresAtMs: exp === null ? null : exp * 1000 }
}

/** An admin token (24 h unless `ttlS`), as a string. */
export async function signAdminToken(secret: string, ttlS?: number): Promise<string> {
  return (await mintToken(secret, { role: 'admin', ttlS })).token
}

/** An agent token for `agentId` (no expiry unless `ttlS`), as a string. */
export async function signAgentToken(secret: string, agentId: string, ttlS?: number): Promise<string> {
  return (await mintToken(secret, { role: 'agent', sub: agentId, ttlS })).token
}

const JTI = /^[0-9a-f]{32}\.(\d{1,12})$/

/** When the token a jti names expires (epoch ms), null if never; undefined for a jti we never mint. */
export function jtiExpiry(jti: string): number | null | undefined {
  const match = JTI.exec(jti)
  if (!match) return undefined
  const exp = Number(match[1])
  return exp === 0 ? null : exp * 1000
}

export function isJti(jti: string): boolean {
  return JTI.test(jti)
}

/** What the verifier asks of the revocations (revocations.ts owns them). */
export interface RevocationCheck {
  isRevoked(claims: TokenClaims): boolean
}

/** Why a token was refused: logged with the peer's address, never sent back. */
export type Refusal = 'malformed' | 'bad_signature' | 'missing_claims' | 'wrong_audience' | 'expired' | 'not_yet_valid' | 'revoked'
export type Verdict = { ok: true; claims: TokenClaims } | { ok: false; reason: Refusal }

/**
 * HMAC-SHA256 under the hub's secret: the MAC a token's signing input (`header.payload`) must
 * carry. The portable default is WebCrypto; both entries pass node:crypto's synchronous HMAC
 * (hub/node/platform.ts, hub/deno/platform.ts): on Node a whole verification then takes about half
 * the CPU (measured over 10 000 agent tokens: 17 against 36 µs), on Deno the MAC a sixth (5 to 7
 * against 36 to 44 µs), and an identify storm verifies one per agent.
 */
export type TokenMac = (signingInput: string) => Uint8Array | Promise<Uint8Array>

export interface VerifierOptions {
  clock?: Clock
  revocations?: RevocationCheck
  maxCached?: number
  mac?: TokenMac
}

/**
 * Verifies a token for one audience. Admin tokens' signatures are cached (every admin request
 * would pay an HMAC); expiry and revocation are checked on every call, cached or not, so a
 * token revoked a moment ago is refused at once.
 *
 * `verifyToken.cached(token, audience)` answers at once for a token in that cache (with the
 * same checks of expiry, issue time, audience and revocation), and undefined for any other:
 * the access gate then lets a GET through without waiting a turn of the event loop for it.
 */
export function createTokenVerifier(secret: string, opts: VerifierOptions = {}) {
  const clock = opts.clock ?? systemClock
  const maxCached = opts.maxCached ?? 1024
  const cache = new Map<string, TokenClaims>()
  const mac = opts.mac ?? webCryptoMac(secret)

  /** The token's claims, or why it is none: at once when the MAC is synchronous (node:crypto's), else later. */
  function decode(token: string): TokenClaims | Refusal | Promise<TokenClaims | Refusal> {
    const hit = cache.get(token)
    if (hit) return hit
    const payload = verifyJws(token, mac)
    return payload instanceof Promise ? payload.then((p) => claimsOf(token, p)) : claimsOf(token, payload)
  }

  function claimsOf(token: string, payload: JwsVerdict): TokenClaims | Refusal {
    if (typeof payload === 'string') return payload
    const claims = toClaims(payload)
    if (typeof claims === 'string') return claims
    if (typeof payload.nbf === 'number' && payload.nbf * 1000 > clock.now()) return 'not_yet_valid'
    if (payload.nbf !== undefined && typeof payload.nbf !== 'number') return 'malformed'
    // Admin tokens only: one is sent with every admin request. An agent token is verified once
    // per connection, and caching a fleet's worth of them (more than maxCached) only churned the
    // cache in a reconnect storm, leaving the evicted tokens as garbage in the old heap.
    if (claims.role !== 'admin') return claims
    if (cache.size >= maxCached) cache.delete(cache.keys().next().value as string)
    cache.set(token, claims)
    return claims
  }

  /** What every call checks of valid claims, on the hub's clock and the revocations as they are now. */
  function judge(token: string, claims: TokenClaims, audience: Role): Verdict {
    const now = clock.now()
    if (claims.expiresAtMs !== null && claims.expiresAtMs <= now) {
      cache.delete(token)
      return { ok: false, reason: 'expired' }
    }
    if (claims.issuedAtMs > now + MAX_CLOCK_SKEW_MS) return { ok: false, reason: 'not_yet_valid' }
    if (claims.role !== audience) return { ok: false, reason: 'wrong_audience' }
    if (opts.revocations?.isRevoked(claims)) return { ok: false, reason: 'revoked' }
    return { ok: true, claims }
  }

  function verdictOf(token: string, claims: TokenClaims | Refusal, audience: Role): Verdict {
    return typeof claims === 'string' ? { ok: false, reason: claims } : judge(token, claims, audience)
  }

  /**
   * verifyToken's verdict at once when the MAC is synchronous (node:crypto's), else its promise: an
   * identify then goes on in the same turn as its frame, with no promise made per token.
   */
  function now(token: string, audience: Role): Verdict | Promise<Verdict> {
    const claims = decode(token)
    return claims instanceof Promise ? claims.then((c) => verdictOf(token, c, audience)) : verdictOf(token, claims, audience)
  }

  async function verifyToken(token: string, audience: Role): Promise<Verdict> {
    return now(token, audience)
  }

  // The admin token of the last cached answer: the next request nearly always carries the same,
  // and comparing it costs less than hashing a fresh copy of a 300-character string for the map.
  let recentToken = ''
  let recentClaims: TokenClaims | undefined

  return Object.assign(verifyToken, {
    now,
    cached(token: string, audience: Role): Verdict | undefined {
      const hit = token === recentToken ? recentClaims : cache.get(token)
      if (hit === undefined) return undefined
      const verdict = judge(token, hit, audience)
      // Expired: `judge` has dropped it from the cache; it must not stay here either.
      recentToken = verdict.ok || verdict.reason !== 'expired' ? token : ''
      recentClaims = verdict.ok || verdict.reason !== 'expired' ? hit : undefined
      return verdict
    },
  })
}

export type TokenVerifier = ReturnType<typeof createTokenVerifier>

/** The key is imported once, not per token as hono/jwt's verify does when given a string. */
function webCryptoMac(secret: string): TokenMac {
  const key = crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  const encoder = new TextEncoder()
  return async (input) => new Uint8Array(await crypto.subtle.sign('HMAC', await key, encoder.encode(input)))
}

type JwsVerdict = Record<string, unknown> | 'malformed' | 'bad_signature'

/**
 * The payload of a compact HS256 JWS whose MAC is right (RFC 7515; the header checks are
 * hono/jwt's: alg HS256, typ JWT if given, no crit), at once when the MAC is synchronous. Time
 * claims are checked by the caller on the hub's clock.
 */
function verifyJws(token: string, mac: TokenMac): JwsVerdict | Promise<JwsVerdict> {
  const parts = token.split('.')
  if (parts.length !== 3) return 'malformed'
  if (parts[0] !== acceptedHeader) {
    const header = jsonPart(parts[0])
    if (!header || header.alg !== 'HS256' || (header.typ !== undefined && header.typ !== 'JWT') || 'crit' in header) return 'malformed'
    acceptedHeader = parts[0]
  }
  const payload = jsonPart(parts[1])
  if (!payload) return 'malformed'
  const signature = canonicalBase64Url(parts[2])
  if (!signature) return 'malformed'
  const signed = mac(`${parts[0]}.${parts[1]}`)
  if (signed instanceof Promise) return signed.then((bytes) => (sameBytes(bytes, signature) ? payload : 'bad_signature'))
  return sameBytes(signed, signature) ? payload : 'bad_signature'
}

/** The last header spelling that passed the checks: every token the hub mints has the same one. */
let acceptedHeader = ''

const utf8 = new TextDecoder()

/** A JWS part's JSON object (UTF-8, as RFC 7515 has it), or null. */
function jsonPart(part: string): Record<string, unknown> | null {
  const bytes = canonicalBase64Url(part)
  if (bytes === null) return null
  try {
    const value: unknown = JSON.parse(utf8.decode(bytes))
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : null
  } catch {
    return null
  }
}

/** Compares in time that depends on the length only, so a forger learns nothing from timing. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  let diff = 0
  for (let i = 0; i < a.byteLength; i++) diff |= a[i] ^ b[i]
  return diff === 0
}

/** The claims of a well-formed token, or why it is not one. */
function toClaims(p: Record<string, unknown>): TokenClaims | Refusal {
  if (p.iss !== ISSUER || typeof p.jti !== 'string' || !isTime(p.iat) || !isTime(p.iat_ms)) return 'missing_claims'
  if (p.exp !== undefined && !isTime(p.exp)) return 'missing_claims'
  if (Math.floor(p.iat_ms / 1000) !== p.iat) return 'malformed'
  // The jti names the expiry it was minted with: a token whose exp was changed is not ours.
  const jtiExp = jtiExpiry(p.jti)
  if (jtiExp === undefined || jtiExp !== (p.exp === undefined ? null : p.exp * 1000)) return 'malformed'
  const expiresAtMs = p.exp === undefined ? null : p.exp * 1000
  if (isAccessRole(p.role)) {
    if (p.aud !== AUDIENCE.admin) return 'wrong_audience'
    if (expiresAtMs === null) return 'missing_claims'
    if (p.sub !== undefined && (typeof p.sub !== 'string' || p.sub === '')) return 'missing_claims'
    const name = typeof p.sub === 'string' ? p.sub : DEFAULT_TOKEN_NAME
    return { role: 'admin', access: p.role, name, jti: p.jti, issuedAtMs: p.iat_ms, expiresAtMs }
  }
  if (p.role === 'agent') {
    if (p.aud !== AUDIENCE.agent) return 'wrong_audience'
    if (typeof p.sub !== 'string' || p.sub === '') return 'missing_claims'
    return { role: 'agent', sub: p.sub, jti: p.jti, issuedAtMs: p.iat_ms, expiresAtMs }
  }
  return 'missing_claims'
}

/** A time claim: whole seconds (or ms) since the epoch. Not a closure in toClaims: one fewer function made per token. */
function isTime(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, '0')).join('')
}
