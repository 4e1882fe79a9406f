/**
 * Signed, stateless tokens: HS256 JWTs verified with the hub's secret and no database.
 * `{ role: "admin" }` for operators, `{ sub, role: "agent" }` for one agent id.
 */
import { sign, verify } from 'hono/jwt'

export type TokenClaims = { role: 'admin' } | { role: 'agent'; sub: string }

export function signAdminToken(secret: string): Promise<string> {
  return sign({ role: 'admin', iat: Math.floor(Date.now() / 1000) }, secret, 'HS256')
}

export function signAgentToken(secret: string, agentId: string): Promise<string> {
  return sign({ sub: agentId, role: 'agent', iat: Math.floor(Date.now() / 1000) }, secret, 'HS256')
}

/**
 * Verifies a token and returns its claims, or null for anything not signed by us with HS256
 * (garbage, tampered, `alg: none`, another secret, expired, unknown role).
 * Verified tokens are cached, because every admin request and identify pays for an HMAC.
 */
export function createTokenVerifier(secret: string, maxCached = 1024) {
  const cache = new Map<string, { claims: TokenClaims; exp: number | null }>()
  // Imported once: given the secret as a string, hono/jwt imports the key on every verify.
  const key = crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])
  return async function verifyToken(token: string): Promise<TokenClaims | null> {
    const hit = cache.get(token)
    if (hit && (hit.exp === null || hit.exp * 1000 > Date.now())) return hit.claims
    let payload: Record<string, unknown>
    try {
      payload = await verify(token, await key, 'HS256')
    } catch {
      return null
    }
    const claims = toClaims(payload)
    if (claims) {
      if (cache.size >= maxCached) cache.delete(cache.keys().next().value as string)
      cache.set(token, { claims, exp: typeof payload.exp === 'number' ? payload.exp : null })
    }
    return claims
  }
}

function toClaims(payload: Record<string, unknown>): TokenClaims | null {
  if (payload.role === 'admin') return { role: 'admin' }
  if (payload.role === 'agent' && typeof payload.sub === 'string') {
    return { role: 'agent', sub: payload.sub }
  }
  return null
}
