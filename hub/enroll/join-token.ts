/**
 * Join tokens (CONTRACT.md, "Install and run", Enrollment): short-lived HS256 JWTs with
 * `aud` "agentcom:join" and `role` "join", signed with the hub's secret. The token verifier of
 * auth.ts knows only admin and agent tokens, so a join token is refused everywhere but at
 * `POST /api/enroll`, which checks it here. Its jti has auth.ts's shape (`<32 hex>.<exp>`), so
 * it is revoked by jti like any other token.
 */
import { sign, verify } from 'hono/jwt'
import { decodeBase64Url, encodeBase64Url } from 'hono/utils/encode'
import * as v from 'valibot'
import { AgentId } from '../../shared/protocol.ts'
import { ISSUER, isJti, jtiExpiry, type RevocationCheck, type TokenClaims } from '../auth/auth.ts'

export const JOIN_AUDIENCE = 'agentcom:join'
export const JOIN_TTL_S = { min: 60, max: 2_592_000, default: 3600 } as const
export const JOIN_MAX_USES = { min: 1, max: 10_000, default: 1 } as const

/** A label as the sidecar's AGENTCOM_LABELS takes it: `name` or `name=value`. */
export const Label = v.pipe(v.string(), v.regex(/^[A-Za-z0-9._-]{1,64}(=[A-Za-z0-9._-]{1,64})?$/, 'a label is name or name=value, each 1 to 64 characters of A-Za-z0-9._-'))
export const Labels = v.pipe(v.array(Label), v.maxLength(32))
/** What every agent id enrolled with the token must start with. */
export const Prefix = v.pipe(v.string(), v.minLength(1), v.maxLength(63), v.regex(/^[A-Za-z0-9._-]+$/, 'a prefix is characters of A-Za-z0-9._-'))

export interface JoinRequest {
  ttlS: number
  maxUses: number
  labels: string[]
  prefix: string | null
}

export interface JoinClaims extends JoinRequest {
  jti: string
  issuedAtMs: number
  expiresAtMs: number
}

export async function mintJoinToken(secret: string, req: JoinRequest, issuedAtMs: number): Promise<{ token: string; claims: JoinClaims }> {
  const iat = Math.floor(issuedAtMs / 1000)
  const exp = iat + req.ttlS
  const jti = `${randomHex(16)}.${exp}`
  const payload = {
    iss: ISSUER, aud: JOIN_AUDIENCE, role: 'join', jti, iat, iat_ms: issuedAtMs, exp,
    max_uses: req.maxUses, labels: req.labels, prefix: req.prefix,
  }
  const token = await sign(payload, secret, 'HS256')
  return { token, claims: { ...req, jti, issuedAtMs, expiresAtMs: exp * 1000 } }
}

const Payload = v.object({
  iss: v.literal(ISSUER),
  aud: v.literal(JOIN_AUDIENCE),
  role: v.literal('join'),
  jti: v.pipe(v.string(), v.check(isJti)),
  iat_ms: v.pipe(v.number(), v.integer(), v.minValue(0)),
  exp: v.pipe(v.number(), v.integer(), v.minValue(0)),
  max_uses: v.pipe(v.number(), v.integer(), v.minValue(JOIN_MAX_USES.min), v.maxValue(JOIN_MAX_USES.max)),
  labels: Labels,
  prefix: v.nullable(Prefix),
})

/**
 * The claims of a join token that is well signed, not expired on `nowMs` and not revoked; null
 * for anything else (the caller answers 401 without saying which).
 */
export async function verifyJoinToken(secret: string, token: string, nowMs: number, revocations: RevocationCheck): Promise<JoinClaims | null> {
  if (!hasCanonicalSignature(token)) return null
  let raw: unknown
  try {
    // Time is checked below, on the hub's clock.
    raw = await verify(token, secret, { alg: 'HS256', exp: false, nbf: false, iat: false })
  } catch {
    return null
  }
  const parsed = v.safeParse(Payload, raw)
  if (!parsed.success) return null
  const p = parsed.output
  const expiresAtMs = p.exp * 1000
  // The jti names the expiry it was minted with: a token whose exp was changed is not ours.
  if (jtiExpiry(p.jti) !== expiresAtMs || expiresAtMs <= nowMs) return null
  // A revocation by jti is all that can refuse a join token; it names no agent.
  if (revocations.isRevoked({ role: 'admin', jti: p.jti, issuedAtMs: p.iat_ms, expiresAtMs } as TokenClaims)) return null
  return {
    jti: p.jti, issuedAtMs: p.iat_ms, expiresAtMs, ttlS: p.exp - Math.floor(p.iat_ms / 1000),
    maxUses: p.max_uses, labels: p.labels, prefix: p.prefix,
  }
}

/** Whether `agentId` is one the token may enroll. */
export function isAllowedId(claims: JoinClaims, agentId: string): boolean {
  return v.is(AgentId, agentId) && (claims.prefix === null || agentId.startsWith(claims.prefix))
}

/** One spelling per signature: other base64url spellings of the same bytes are refused. */
function hasCanonicalSignature(token: string): boolean {
  const signature = token.split('.')[2] ?? ''
  try {
    return encodeBase64Url(decodeBase64Url(signature).buffer).replace(/=+$/, '') === signature
  } catch {
    return false
  }
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, '0')).join('')
}
