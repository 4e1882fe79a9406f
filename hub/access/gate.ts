/**
 * The access gate in front of /api/admin (and any route mounted behind it): checks the bearer
 * token (401 otherwise, logged at a bounded rate, never audited), finds the route the request
 * matched in the route table (route-roles.ts), refuses a role below the one it needs (403
 * `forbidden` with `required_role`, the handler never runs), and for a route that changes
 * something stores the audit record, with the status answered, before the answer leaves.
 */
import type { Context, MiddlewareHandler, Next } from 'hono'
import { matchedRoutes } from 'hono/route'
import type { Logger } from '../../shared/log.ts'
import type { Clock } from '../../shared/time.ts'
import { ERROR } from '../../shared/protocol.ts'
import type { TokenClaims, TokenVerifier, Verdict } from '../auth/auth.ts'
import type { AuditTrail } from './audit.ts'
import type { AuditActor } from './audit-store.ts'
import { routeRole, type RouteRole } from './route-roles.ts'
import { mayUse, type AccessRole } from './roles.ts'

export const FORBIDDEN = 'forbidden'

export type AdminClaims = Extract<TokenClaims, { role: 'admin' }>

const CLAIMS_KEY = 'accessClaims'

/** The claims of the token the gate let through (set on every request past it). */
export function claimsOf(c: Context): AdminClaims {
  return c.get(CLAIMS_KEY as never) as AdminClaims
}

export interface AccessGateDeps {
  verifyToken: TokenVerifier
  audit: AuditTrail
  peerOf(c: Context): string | null
  log: Logger
  clock: Clock
  /** The request's Authorization header (Node: hub/node/authorization-header.ts). Default: Hono's lookup. */
  authorizationHeader?: (c: Context) => string | undefined
}

/** Refusals logged per window at most; the rest are counted in one line when the window ends. */
const REFUSALS_LOGGED = 10
const REFUSAL_WINDOW_MS = 10_000

export function createAccessGate(d: AccessGateDeps): MiddlewareHandler {
  const logRefusal = rateLimitedLog(d.log, d.clock)
  const authorizationHeader = d.authorizationHeader ?? ((c: Context) => c.req.header('authorization'))

  /** Past the token check: the role the route needs, then the handler, then the audit record. */
  function admit(c: Context, next: Next, verdict: Verdict | typeof MISSING): Promise<Response | void> {
    if (!verdict.ok || verdict.claims.role !== 'admin') {
      logRefusal({ peer: d.peerOf(c), method: c.req.method, path: c.req.path.slice(0, 200), reason: verdict.ok ? 'wrong_audience' : verdict.reason })
      return Promise.resolve(c.json({ error: ERROR.UNAUTHORIZED }, 401))
    }
    const claims = verdict.claims
    c.set(CLAIMS_KEY as never, claims as never)
    const route = endpointOf(c)
    // No route matched: the 404 changes nothing and needs no role.
    if (!route) return next()
    const row = rowOf(route)
    if (!row) d.log.error('route missing from the access table; only admin may use it', { method: route.method, path: route.path })
    const required: AccessRole = row?.role ?? 'admin'
    const changes = c.req.method !== 'GET' && c.req.method !== 'HEAD'
    if (!mayUse(claims.access, required)) return refuse(c, claims, row, route, required, changes)
    // A read is not audited: nothing to do once it is answered, so the handler's promise is ours.
    if (!changes) return next()
    return answerAudited(c, next, claims, row, route)
  }

  async function refuse(
    c: Context, claims: AdminClaims, row: RouteRole | undefined, route: Endpoint, required: AccessRole, changes: boolean,
  ): Promise<Response> {
    const unstored = changes ? await audit(c, d, { actor: actorOf(claims), row, route, status: 403 }) : null
    return unstored ?? c.json({ error: FORBIDDEN, required_role: required }, 403)
  }

  async function answerAudited(c: Context, next: Next, claims: AdminClaims, row: RouteRole | undefined, route: Endpoint): Promise<void> {
    await next()
    const unstored = await audit(c, d, { actor: actorOf(claims), row, route, status: c.res.status })
    if (unstored) {
      c.res = undefined as never
      c.res = unstored
    }
  }

  // The Authorization header of the last request and its token: clients send the same one again.
  let recentHeader: string | undefined
  let recentToken: string | null = null

  return (c, next) => {
    const header = authorizationHeader(c)
    if (header !== recentHeader) {
      recentHeader = header
      recentToken = bearerToken(header)
    }
    const token = recentToken
    if (token === null) return admit(c, next, MISSING)
    // An admin token seen before is judged at once (expiry and revocation included); only a
    // token not in the verifier's cache waits for its signature to be checked.
    const verdict = d.verifyToken.cached(token, 'admin')
    if (verdict !== undefined) return admit(c, next, verdict)
    return d.verifyToken(token, 'admin').then((v) => admit(c, next, v))
  }
}

const MISSING = { ok: false as const, reason: 'missing' }

/** The token of `Authorization: Bearer <token>` (the scheme in any case), or null. */
function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] ?? null
}

type Endpoint = { method: string; path: string }

/**
 * Stores the record of the request answered `status`. Unstored, the answer becomes 503
 * `storage_unavailable` (returned here): no answer goes out that the trail does not hold.
 */
type AuditDeps = Pick<AccessGateDeps, 'audit' | 'peerOf' | 'log'>

async function audit(
  c: Context, d: AuditDeps,
  a: { actor: AuditActor; row: RouteRole | undefined; route: { method: string; path: string }; status: number },
): Promise<Response | null> {
  const body = await bodyText(c)
  const action = a.row?.action ?? `${a.route.method.toLowerCase()} ${a.route.path}`
  try {
    await d.audit.record({
      actor: a.actor, peer: d.peerOf(c), action, target: targetOf(c.req.path, a.route.path, body, a.row?.targetField),
      body, status: a.status,
    })
    return null
  } catch (err) {
    d.log.error('audit record not stored; answered 503', { action, status: a.status, error: String(err) })
    return c.json({ error: ERROR.STORAGE_UNAVAILABLE }, 503)
  }
}

const ACTOR_KEY = 'auditActor'

/**
 * For a changing route outside /api/admin that checks its own credential (`POST /api/enroll`
 * and its join token): the handler names the actor once the credential is valid
 * (`setAuditActor(c, { join_jti })`), and this middleware, mounted before it, stores the
 * record with the status answered before the answer leaves. A request whose handler named no
 * actor (no valid credential) is not audited.
 */
export function auditedRoute(d: AuditDeps, action: string, targetField?: string): MiddlewareHandler {
  return async (c, next) => {
    await next()
    const actor = c.get(ACTOR_KEY as never) as AuditActor | undefined
    if (!actor) return
    const route = endpointOf(c) ?? { method: c.req.method, path: c.req.path }
    const unstored = await audit(c, d, {
      actor, row: { method: 'POST', path: route.path, role: 'admin', action, targetField }, route, status: c.res.status,
    })
    if (unstored) {
      c.res = undefined as never
      c.res = unstored
    }
  }
}

export function setAuditActor(c: Context, actor: AuditActor): void {
  c.set(ACTOR_KEY as never, actor as never)
}

function actorOf(claims: AdminClaims): AuditActor {
  return { name: claims.name, role: claims.access, jti: claims.jti }
}

/** The route that answers the request: the last one matched that is not middleware. */
function endpointOf(c: Context): { method: string; path: string } | null {
  const routes = matchedRoutes(c)
  for (let i = routes.length - 1; i >= 0; i--) {
    const r = routes[i]
    if (r.method !== 'ALL' && !r.path.endsWith('*')) return r
  }
  return null
}

/**
 * The table's row of a route the app registered, looked up once per route: the router hands
 * out the same route object for every request it matches, for as long as the app lives.
 */
const rows = new WeakMap<object, RouteRole>()
function rowOf(route: { method: string; path: string }): RouteRole | undefined {
  let row = rows.get(route)
  if (row === undefined) {
    row = routeRole(route.method, route.path)
    if (row) rows.set(route, row)
  }
  return row
}

/** The body as read (Hono caches it for the handler), or '' when it cannot be read (too large). */
async function bodyText(c: Context): Promise<string> {
  try {
    return await c.req.text()
  } catch {
    return ''
  }
}

/** The first path parameter's value, else the body's `field`. */
function targetOf(path: string, pattern: string, body: string, field: string | undefined): string | null {
  const parts = path.split('/')
  const keys = pattern.split('/')
  for (let i = 0; i < keys.length; i++) {
    if (keys[i].startsWith(':')) {
      try {
        return decodeURIComponent(parts[i] ?? '')
      } catch {
        return parts[i] ?? null
      }
    }
  }
  if (!field) return null
  try {
    const value = (JSON.parse(body) as Record<string, unknown>)[field]
    return typeof value === 'string' ? value.slice(0, 200) : null
  } catch {
    return null
  }
}

/** At most REFUSALS_LOGGED lines per window, then one line counting the rest. */
function rateLimitedLog(log: Logger, clock: Clock): (fields: Record<string, unknown>) => void {
  let windowStart = -Infinity
  let logged = 0
  let suppressed = 0
  return (fields) => {
    const now = clock.now()
    if (now - windowStart >= REFUSAL_WINDOW_MS) {
      if (suppressed > 0) log.warn('admin requests refused, not logged one by one', { refused: suppressed, window_ms: REFUSAL_WINDOW_MS })
      windowStart = now
      logged = 0
      suppressed = 0
    }
    if (logged < REFUSALS_LOGGED) {
      logged++
      log.warn('admin request refused', fields)
    } else suppressed++
  }
}
