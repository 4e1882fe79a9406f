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
  await next()
  const headers = c.res.headers
  if (!headers.has('cache-control')) headers.set('cache-control', 'no-store')
  headers.set('x-content-type-options', 'nosniff')
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
