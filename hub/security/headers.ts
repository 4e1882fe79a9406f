/**
 * Every answer's security headers, and where WebSocket upgrades may go (CONTRACT.md, "Hardening
 * (v3)"): one middleware, mounted first on the hub's app (app.ts), before any route runs. One
 * rather than two: each middleware is a step of every request (admin_api_rps).
 */
import type { Context, MiddlewareHandler, Next } from 'hono'
import { ERROR } from '../../shared/protocol.ts'

/**
 * Every answer: never cached (admin data, tokens), never sniffed as another type. An answer that
 * set its own caching (the dashboard's assets, revalidated) keeps it. A WebSocket upgrade
 * anywhere but /ws is refused before any route runs: routed, an upgrade to the events stream
 * made the Node hub read its own endless answer into memory.
 */
export function httpHardening(upgradeHeader: UpgradeHeader = requestUpgradeHeader): MiddlewareHandler {
  const isUpgradeElsewhere = (c: Context): boolean => {
    if (c.req.path === '/ws') return false
    const upgrade = upgradeHeader(c)
    return typeof upgrade === 'string' && upgrade.toLowerCase() === 'websocket'
  }
  return (c, next) => {
    const outgoing = (c.env as { outgoing?: Partial<ServerResponseHeaders> } | undefined)?.outgoing
    // Not async: the route's own promise is returned, one step fewer per request.
    if (outgoing?.[WRITES_SECURITY_HEADERS] === true) return isUpgradeElsewhere(c) ? Promise.resolve(upgradeRefused(c)) : next()
    if (typeof outgoing?.setHeader !== 'function') return withHeadersSet(c, next, isUpgradeElsewhere)
    // Node on a server without that response (an embedder's): on the server's response, which
    // Node merges under the answer's own headers when it writes them (an answer's own
    // cache-control wins). Reading `c.res.headers` instead builds a web Headers from the answer's
    // plain ones on every request: about a tenth of the hub's own CPU per GET (profiled).
    outgoing.setHeader('cache-control', 'no-store')
    outgoing.setHeader('x-content-type-options', 'nosniff')
    return isUpgradeElsewhere(c) ? Promise.resolve(upgradeRefused(c)) : next()
  }
}

/**
 * A request's `upgrade` header. Read on every request, so a runtime may pass a faster way than
 * Hono's (the Node hub: hub/node/upgrade-header.ts). Default: `c.req.header('upgrade')`.
 */
export type UpgradeHeader = (c: Context) => string | undefined

function requestUpgradeHeader(c: Context): string | undefined {
  return c.req.header('upgrade')
}

/**
 * Other runtimes and `app.request`: set on the answer once it is made; in the same turn when
 * the route answered at once (hub/api/dispatch.ts), so that Deno gets its answer without a promise.
 */
function withHeadersSet(c: Context, next: Next, isUpgradeElsewhere: (c: Context) => boolean): Promise<Response | void> {
  if (isUpgradeElsewhere(c)) {
    c.res = upgradeRefused(c)
    return Promise.resolve(secured(c))
  }
  const routed: unknown = next()
  if (routed instanceof Promise) return routed.then(() => secured(c))
  return secured(c) as unknown as Promise<Response>
}

function secured(c: Context): Response {
  const headers = c.res.headers
  if (!headers.has('cache-control')) headers.set('cache-control', 'no-store')
  headers.set('x-content-type-options', 'nosniff')
  return c.res
}

function upgradeRefused(c: Context): Response {
  return c.json({ error: ERROR.NOT_FOUND, detail: 'WebSocket upgrades are served at /ws only' }, 404)
}

/**
 * True on a server response that writes these headers itself with its head: the Node hub's
 * (hub/node/security-headers-response.ts), where that costs less than setting them here.
 */
export const WRITES_SECURITY_HEADERS = 'agentcomWritesSecurityHeaders'

/**
 * What @hono/node-server hands the app as `env.outgoing`: Node's response, not yet written.
 * Only its `setHeader` is used; other runtimes (Deno, `app.request`) hand none.
 */
interface ServerResponseHeaders {
  setHeader(name: string, value: string): unknown
  [WRITES_SECURITY_HEADERS]?: true
}
