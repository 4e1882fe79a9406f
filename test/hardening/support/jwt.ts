/**
 * Hand-made JWTs for the auth matrix: any header, any payload, signed with any HMAC secret
 * and algorithm, or not at all. Built with node:crypto so the hub's own signer is not trusted
 * to produce the attacks it must refuse.
 */
import { createHmac, randomBytes } from 'node:crypto'

const b64url = (data: string | Buffer) => Buffer.from(data).toString('base64url')

export function makeJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  secret: string | null,
  hash: 'sha256' | 'sha384' | 'sha512' = 'sha256',
): string {
  const head = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`
  if (secret === null) return `${head}.`
  return `${head}.${createHmac(hash, secret).update(head).digest('base64url')}`
}

export const hs256 = (payload: Record<string, unknown>, secret: string) => makeJwt({ alg: 'HS256', typ: 'JWT' }, payload, secret)

/** Changes one character in the middle of the signature (the last one may only carry padding bits). */
export function tamperSignature(token: string): string {
  const [h, p, s] = token.split('.')
  const i = Math.floor(s.length / 2)
  return `${h}.${p}.${s.slice(0, i)}${s[i] === 'A' ? 'B' : 'A'}${s.slice(i + 1)}`
}

/** Replaces the payload and keeps the original signature. */
export function swapPayload(token: string, payload: Record<string, unknown>): string {
  const [h, , s] = token.split('.')
  return `${h}.${b64url(JSON.stringify(payload))}.${s}`
}

export const nowS = () => Math.floor(Date.now() / 1000)

/**
 * The claims of a contract-shaped token (CONTRACT.md, "Tokens"), with `over` changed; a key set
 * to undefined is left out. The jti names the final exp, as the hub's own tokens do.
 */
export function contractClaims(role: 'admin' | 'agent', over: Record<string, unknown> = {}): Record<string, unknown> {
  const nowMs = Date.now()
  const base: Record<string, unknown> = {
    iss: 'agentcom', aud: `agentcom:${role}`, iat: Math.floor(nowMs / 1000), iat_ms: nowMs, role,
    ...(role === 'admin' ? { exp: nowS() + 3600 } : {}),
  }
  const claims = { ...base, ...over }
  if (!('jti' in over)) claims.jti = `${randomBytes(16).toString('hex')}.${typeof claims.exp === 'number' ? claims.exp : 0}`
  for (const [key, value] of Object.entries(claims)) if (value === undefined) delete claims[key]
  return claims
}
