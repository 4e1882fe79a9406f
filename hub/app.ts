/**
 * The hub: one Hono app serving the admin API and the sidecars' WebSocket upgrades.
 * Portable: imports only hono, valibot and Web APIs. Runtime entries (node.ts, deno.ts)
 * pass in their `upgradeWebSocket` and serve `hub.app.fetch`.
 */
import { Hono } from 'hono'
import type { UpgradeWebSocket } from 'hono/ws'
import { bodyLimit } from 'hono/body-limit'
import { SECOND } from '../shared/time.ts'
import { systemClock, type Clock } from '../shared/time.ts'
import { createLogger, type Logger } from '../shared/log.ts'
import { createTokenVerifier, assertSecret } from './auth.ts'
import { Fleet } from './fleet.ts'
import { TaskBoard } from './tasks.ts'
import { Rollouts } from './rollouts.ts'
import { createSocketHub } from './socket.ts'
import { adminRoutes } from './routes.ts'

export interface HubOptions {
  upgradeWebSocket: UpgradeWebSocket<any>
  /** The HS256 signing key for tokens, at least 32 characters. */
  secret: string
  /** A restarted agent not back this long after it went down fails its restart. Default 120 s. */
  restartTimeoutMs?: number
  /** The first frame must be identify within this. Default 10 s. */
  identifyTimeoutMs?: number
  /** A connection silent this long is closed as dead. Default 60 s (sidecars ping every 15 s). */
  idleTimeoutMs?: number
  /** An assignment not accepted within this goes back to the queue. Default 30 s. */
  acceptTimeoutMs?: number
  /** How long a dropped agent has to come back and report its task. Default 30 s. */
  taskGraceMs?: number
  /** Default task timeout when the request gives none. Default 10 minutes. */
  taskTimeoutMs?: number
  /** Largest admin request body. Default 1 MiB. */
  maxBodyBytes?: number
  clock?: Clock
  log?: Logger
  newId?: () => string
}

export const DEFAULTS = {
  restartTimeoutMs: 120 * SECOND,
  identifyTimeoutMs: 10 * SECOND,
  idleTimeoutMs: 60 * SECOND,
  acceptTimeoutMs: 30 * SECOND,
  taskGraceMs: 30 * SECOND,
  taskTimeoutMs: 600 * SECOND,
  maxBodyBytes: 1024 * 1024,
  maxTaskAttempts: 5,
  maxFinishedTasks: 10_000,
} as const

export function createHub(options: HubOptions) {
  assertSecret(options.secret)
  const o = { ...DEFAULTS, ...stripUndefined(options) }
  const clock = options.clock ?? systemClock
  const log = options.log ?? createLogger('hub')
  const newId = options.newId ?? (() => crypto.randomUUID())

  let rollouts: Rollouts | null = null
  let tasks: TaskBoard | null = null
  const fleet = new Fleet({
    clock, log, newId, restartTimeoutMs: o.restartTimeoutMs,
    onAvailable: () => {
      tasks?.scheduleDispatch()
      rollouts?.agentAvailable()
    },
    onRestartChange: (rec, restart) => rollouts?.restartChanged(rec, restart),
  })
  tasks = new TaskBoard(fleet, {
    clock, log, newId, acceptTimeoutMs: o.acceptTimeoutMs, graceMs: o.taskGraceMs,
    maxAttempts: o.maxTaskAttempts, defaultTimeoutMs: o.taskTimeoutMs, maxFinished: o.maxFinishedTasks,
  })
  rollouts = new Rollouts(fleet, { clock, log, newId, offlineWaitMs: o.restartTimeoutMs })
  const verifyToken = createTokenVerifier(options.secret)
  const sockets = createSocketHub({
    fleet, tasks, verifyToken, log, clock,
    identifyTimeoutMs: o.identifyTimeoutMs, idleTimeoutMs: o.idleTimeoutMs,
  })

  const app = new Hono()
    .get('/health', (c) => c.json({ status: 'ok' as const }))
    .get(
      '/ws',
      options.upgradeWebSocket(() => sockets.events()),
      (c) => c.json({ error: 'upgrade_required', detail: 'GET /ws is a WebSocket endpoint' }, 426),
    )
    .use('/api/*', bodyLimit({
      maxSize: o.maxBodyBytes,
      onError: (c) => c.json({ error: 'payload_too_large', max_bytes: o.maxBodyBytes }, 413),
    }))
    .route('/api/admin', adminRoutes({ fleet, tasks, rollouts, verifyToken }))

  app.notFound((c) => c.json({ error: 'not_found' }, 404))
  app.onError((err, c) => {
    log.error('request failed', { path: c.req.path, error: err.message })
    return c.json({ error: 'internal_error' }, 500)
  })

  return {
    app,
    fleet,
    tasks,
    rollouts,
    /** Stops timers and closes every socket (code 1001). */
    close(): void {
      sockets.close()
      fleet.close()
      tasks?.close()
      rollouts?.close()
    },
  }
}

export type Hub = ReturnType<typeof createHub>
export type HubApp = Hub['app']

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
