/**
 * `GET /metrics` (the Prometheus text format, for scrapers) and `GET /api/admin/metrics/history`
 * (what the dashboard's charts start from). Both read only, so any admin-audience token will
 * do, whatever its role; an agent token never.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono'
import { ERROR } from '../../shared/protocol.ts'
import type { Logger } from '../../shared/log.ts'
import type { TokenVerifier } from '../auth/auth.ts'
import { EXPOSITION_CONTENT_TYPE } from './registry.ts'
import type { HubMetrics } from './hub-metrics.ts'
import type { MetricsHistory } from './history.ts'

export interface MetricsRouteDeps {
  metrics: HubMetrics
  history: MetricsHistory
  verifyToken: TokenVerifier
  peerOf(c: Context): string | null
  log: Logger
}

const NO_STORE = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }

/** Mounted at the root: `/metrics` and `/api/admin/metrics/history`. */
export function metricsRoutes(d: MetricsRouteDeps) {
  const auth = requireAdminToken(d)
  return new Hono()
    .get('/metrics', auth, async () => {
      const body = await d.metrics.expose()
      return new Response(body, { status: 200, headers: { ...NO_STORE, 'content-type': EXPOSITION_CONTENT_TYPE } })
    })
    .get('/api/admin/metrics/history', auth, (c) => {
      for (const [k, v] of Object.entries(NO_STORE)) c.header(k, v)
      return c.json(d.history.view(), 200)
    })
}

function requireAdminToken(d: MetricsRouteDeps): MiddlewareHandler {
  return async (c, next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')
    const verdict = match ? await d.verifyToken(match[1], 'admin') : { ok: false as const, reason: 'missing' }
    if (!verdict.ok) {
      d.log.warn('metrics request refused', { peer: d.peerOf(c), path: c.req.path, reason: verdict.reason })
      return c.json({ error: ERROR.UNAUTHORIZED }, 401)
    }
    await next()
  }
}
