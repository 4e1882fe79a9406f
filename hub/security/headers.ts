/**
 * Every answer's security headers, and where WebSocket upgrades may go (CONTRACT.md, "Hardening
 * (v3)"): mounted first on the hub's app (app.ts), before any route runs.
 */
import type { MiddlewareHandler } from 'hono'
import { ERROR } from '../../shared/protocol.ts'

/**
 * Every answer: never cached (admin data, tokens), never sniffed as another type. An answer that
 * set its own caching (the dashboard's assets, revalidated) keeps it.
 */
export const securityHeaders: MiddlewareHandler = async (c, next) => {
  const outgoing = (c.env as { outgoing?: Partial<ServerResponseHeaders> } | undefined)?.outgoing
  if (typeof outgoing?.setHeader === 'function') {
    // Node: on the server's response, which Node merges under the answer's own headers when it
    // writes them (an answer's own cache-control wins). Reading `c.res.headers` instead builds a
    // web Headers from the answer's plain ones on every request: about a tenth of the hub's own
    // CPU per GET under admin_api_rps (profiled).
    outgoing.setHeader('cache-control', 'no-store')
    outgoing.setHeader('x-content-type-options', 'nosniff')
    return next()
  }
  await next()
  const headers = c.res.headers
  if (!headers.has('cache-control')) headers.set('cache-control', 'no-store')
  headers.set('x-content-type-options', 'nosniff')
}

/**
 * What @hono/node-server hands the app as `env.outgoing`: Node's response, not yet written.
 * Only its `setHeader` is used; other runtimes (Deno, `app.request`) hand none.
 */
interface ServerResponseHeaders {
  setHeader(name: string, value: string): unknown
}

/**
 * A WebSocket upgrade anywhere but /ws is refused before any route runs: routed, an upgrade
 * to the events stream made the Node hub read its own endless answer into memory.
 */
export const upgradesOnlyAtWs: MiddlewareHandler = async (c, next) => {
  if (c.req.path !== '/ws' && c.req.header('upgrade')?.toLowerCase() === 'websocket') {
    return c.json({ error: ERROR.NOT_FOUND, detail: 'WebSocket upgrades are served at /ws only' }, 404)
  }
  await next()
}
