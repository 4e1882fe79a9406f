/**
 * The hub: one Hono app serving the admin API and the sidecars' WebSocket upgrades.
 * Portable: imports only hono, valibot and Web APIs. Runtime entries (node.ts, deno.ts)
 * pass in their `upgradeWebSocket` and serve `hub.app.fetch`.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono'
import type { UpgradeWebSocket, WSContext } from 'hono/ws'
import { bodyLimit } from 'hono/body-limit'
import { SECOND } from '../shared/time.ts'
import { systemClock, type Clock } from '../shared/time.ts'
import { createLogger, type Logger } from '../shared/log.ts'
import { createTokenVerifier, type TokenMac } from './auth.ts'
import { createMemoryRevocationStore, type RevocationStore } from './revocations.ts'
import { assertSecret } from './secret.ts'
import { HUB_SETTINGS as S } from './settings.ts'
import { ERROR } from '../shared/protocol.ts'
import { ChangeFeed } from './changes.ts'
import { Fleet } from './fleet.ts'
import { TaskBoard, type OverdueTask } from './tasks.ts'
import type { StoredTask, TaskStore } from './task-store.ts'
import { Rollouts } from './rollouts.ts'
import { Healing } from './healing.ts'
import type { HealingSettings } from './healing-settings.ts'
import { createAlertSender } from './alerts.ts'
import { startLocalFleetAlerts } from './alerts/local-fleet-alerts.ts'
import { createSocketHub } from './socket.ts'
import { adminRoutes } from './routes.ts'
import { dashboardRoutes } from './dashboard/routes.ts'
import { createLocalAdmin, StorageUnavailable } from './admin.ts'
import type { ClusterAttach } from './cluster-seam.ts'
import { LiveEvents } from './live-events.ts'
import { EventStreams, type EventStreamOptions } from './event-stream.ts'
import { createHubMetrics, type ProcessMetrics } from './metrics/hub-metrics.ts'
import { MetricsHistory } from './metrics/history.ts'
import { metricsRoutes } from './metrics/routes.ts'
import { countTaskCreation, timeTaskAcceptance } from './metrics/wrappers.ts'
import { openApiHandler } from './api/openapi.ts'
import { enrollRoutes } from './enroll/routes.ts'
import { createMemoryJoinUses, type JoinUseStore } from './enroll/join-uses.ts'
import { AuditTrail } from './access/audit.ts'
import { createMemoryAuditStore } from './access/audit-file.ts'
import type { AuditStore } from './access/audit-store.ts'
import { auditedRoute, createAccessGate } from './access/gate.ts'
import { accessRoutes } from './access/routes.ts'
import { MemoryTaskOutputs } from './task-control/output.ts'
import { FileTaskOutputs, type OutputFiles } from './task-control/file-output.ts'
import { RefusalLog } from './security/refusal-log.ts'
import { QueueFull } from './security/queue-cap.ts'
import { FleetSaver, worseHealth } from './store/fleet-saver.ts'
import type { FleetState, FleetStateStore } from './store/fleet-state.ts'

/** The methods whose requests may carry a body, which the admin API limits (AGENTCOM_MAX_BODY_BYTES). */
const BODY_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

export interface HubOptions {
  upgradeWebSocket: UpgradeWebSocket<any>
  /** The HS256 signing key for tokens, at least 32 characters (MIN_SECRET_LENGTH). */
  secret: string
  /** The tokens' HMAC under `secret`; default WebCrypto (the Node hub passes node:crypto's). */
  tokenMac?: TokenMac
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
  /** Finished tasks kept for GET (in memory, or the cluster's table); older ones are forgotten. Default 10 000. */
  maxFinishedTasks?: number
  /** Largest admin request body; a larger one is 413 `payload_too_large`. Default 1 MiB. */
  maxBodyBytes?: number
  /**
   * Open WebSockets beyond this are refused: the upgrade is answered 503 `too_many_connections`
   * (or, if it raced past that check, the socket is closed with 1013). Default 10 000.
   */
  maxConnections?: number
  /**
   * Frames a socket may send per second on average, and at once after a quiet second. A frame
   * over the budget is answered `rate_limited` and dropped; a socket that has had this many
   * dropped without slowing down is closed with 4029. Default 100.
   */
  maxFramesPerS?: number
  /**
   * Sockets waiting unidentified: past this a new one takes the slot of the one waiting longest,
   * which is closed 1013. They never count against maxConnections, which caps identified agents
   * only. Default 1024.
   */
  maxPending?: number
  /** Open `GET /api/admin/events` streams beyond this are answered 503 `too_many_clients`. Default 256. */
  maxEventClients?: number
  /** Queued tasks beyond this: `POST /api/admin/tasks` is 503 `queue_full`, no task created. Default 100 000. */
  maxQueuedTasks?: number
  /** An offline agent holding no task is forgotten this long after it went offline. Default 1 day. */
  offlineTtlMs?: number
  /** While saves of the task table fail, they are tried again this often. Default 1 s. */
  storeRetryMs?: number
  /**
   * Bytes queued on a socket and not yet sent (Node: ws's `bufferedAmount`; Deno: the
   * WebSocket's). Default: the runtime socket's `bufferedAmount`, read from `ws.raw`.
   */
  unsentBytes?: (ws: WSContext) => number
  /**
   * Destroys a socket without the closing handshake (Node: ws's `terminate()`), used for a
   * connection silent past `idleTimeoutMs`. Default: none, the runtime's close timeout applies.
   */
  terminateSocket?: (ws: WSContext) => void
  /**
   * Sets the largest frame the runtime reads on a socket (Node: ws's receiver), so frames over
   * the limits are refused before they are buffered. Default: none (Deno offers no such limit).
   */
  setMaxPayload?: (ws: WSContext, bytes: number) => void
  /**
   * An agent never reported its task within timeout_ms + AGENTCOM_TASK_GRACE_MS: the task is
   * already queued again; this decides what happens to the agent. Default: healing's force
   * restart, reason `task_overdue`, within the healing budget (Healing.taskOverdue).
   */
  onOverdue?: (overdue: OverdueTask) => void
  /** The healing budget (AGENTCOM_HEAL_*); unset fields are the settings table's defaults. */
  healing?: Partial<HealingSettings>
  /** AGENTCOM_ALERT_WEBHOOK_URL: healing and fleet alerts are POSTed there. Default: none sent. */
  alertWebhookUrl?: string
  /** AGENTCOM_ALERT_WEBHOOK_SECRET: deliveries are signed with it (alerts.ts). Default: unsigned. */
  alertWebhookSecret?: string
  /** AGENTCOM_ALERT_OFFLINE_S in ms: an agent offline this long alerts `agent_offline`. Default 300 s. */
  alertOfflineMs?: number
  /** Where tasks are saved so a hub restart loses none. Default: memory only. */
  taskStore?: TaskStore
  /** Where a single hub keeps task output beside its tasks (task-control/file-output.ts). Default: memory only. */
  outputFiles?: { dir: string; files: OutputFiles }
  /** Tasks a previous hub saved (`taskStore.load()`), restored at start. */
  restoredTasks?: StoredTask[]
  /** A single hub: where restarts, rollouts, quarantines and healing's history are saved. Default: memory only. */
  fleetStateStore?: FleetStateStore
  /** What a previous hub saved there (`fleetStateStore.load()`), restored at start. */
  restoredFleetState?: FleetState | null
  /** This hub's id, shown as `hub_id` on its agents (AGENTCOM_HUB_ID). Default: random. */
  hubId?: string
  /**
   * Cluster mode (hub/cluster/, AGENTCOM_DATABASE_URL): agents' presence, commands and tasks
   * are shared through the cluster's database. Unset: a single hub.
   */
  cluster?: ClusterAttach
  /** `GET /api/admin/events`: keep-alive period and the bound on a client's unsent bytes. */
  eventStream?: Omit<EventStreamOptions, 'log'>
  /** Events kept for `Last-Event-ID` replay. Default 1000. */
  eventBuffer?: number
  /** Where the audit trail is kept (hub/access/): the data dir's file or the cluster's table. Default: memory only. */
  audit?: AuditStore
  /** Revoked tokens (see revocations.ts). Default: memory only, so lost on restart. */
  revocations?: RevocationStore
  /** How often each join token was used (enroll/join-uses.ts). Default: memory only. */
  joinUses?: JoinUseStore
  /**
   * The address of the peer behind a request or an upgrade, for the logs of identifies and
   * refused tokens. Each runtime entry supplies its own (Node: the socket; Deno: remoteAddr).
   */
  remoteAddress?: (c: Context) => string | null
  /** The runtime's version and memory, for `GET /metrics` (hub/node/metrics.ts, hub/deno/metrics.ts). */
  processMetrics?: ProcessMetrics
  clock?: Clock
  log?: Logger
  newId?: () => string
}

/** createHub's defaults: the settings table's, and those no variable sets. */
export const DEFAULTS = {
  restartTimeoutMs: S.restartTimeoutS.default * SECOND,
  identifyTimeoutMs: S.identifyTimeoutMs.default,
  idleTimeoutMs: S.idleTimeoutMs.default,
  acceptTimeoutMs: S.acceptTimeoutMs.default,
  taskGraceMs: S.taskGraceMs.default,
  maxBodyBytes: S.maxBodyBytes.default,
  maxConnections: S.maxConnections.default,
  maxFramesPerS: S.maxFramesPerS.default,
  maxPending: S.maxPending.default,
  maxEventClients: S.maxEventClients.default,
  maxQueuedTasks: S.maxQueuedTasks.default,
  offlineTtlMs: S.offlineTtlS.default * SECOND,
  storeRetryMs: SECOND,
  taskTimeoutMs: 600 * SECOND,
  maxTaskAttempts: 5,
  maxFinishedTasks: 10_000,
  alertOfflineMs: S.alertOfflineS.default * SECOND,
} as const

export function createHub(options: HubOptions) {
  assertSecret(options.secret)
  const o = { ...DEFAULTS, ...stripUndefined(options) }
  for (const key of ['maxBodyBytes', 'maxConnections', 'maxFramesPerS', 'maxPending', 'maxEventClients', 'maxQueuedTasks'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 1) throw new Error(`options.${key} must be a positive integer, got ${o[key]}`)
  }
  const clock = options.clock ?? systemClock
  const log = options.log ?? createLogger('hub')
  const newId = options.newId ?? (() => crypto.randomUUID())

  // Set once the output store exists (below); tasks forgotten before that had no output here.
  let forgetOutput = (_taskIds: string[]) => {}
  const changes = new ChangeFeed((err, change) => log.error('change listener failed', { change: change.type, error: String(err) }))
  const fleet = new Fleet({ clock, log, newId, restartTimeoutMs: o.restartTimeoutMs, offlineTtlMs: o.offlineTtlMs, changes })
  // Subscribed in this order: a freed agent is offered queued tasks before rollouts step on.
  const tasks = new TaskBoard(fleet, {
    clock, log, newId, acceptTimeoutMs: o.acceptTimeoutMs, graceMs: o.taskGraceMs,
    maxAttempts: o.maxTaskAttempts, defaultTimeoutMs: o.taskTimeoutMs, maxFinished: o.maxFinishedTasks,
    store: options.taskStore ?? null, storeRetryMs: o.storeRetryMs, changes, bus: fleet.bus,
    onForget: (ids) => forgetOutput(ids),
    // THE hook for an agent that never reported its task: a healing action (a force restart
    // within the healing budget). Called from a timer, so never before `healing` exists.
    onOverdue: options.onOverdue ?? ((overdue) => healing.taskOverdue(overdue.agent_id, overdueDetail(overdue))),
  })
  if (options.restoredTasks?.length) {
    tasks.restore(options.restoredTasks)
    log.info('tasks restored', { tasks: options.restoredTasks.length })
  }
  const rollouts = new Rollouts(fleet, { clock, log, newId, offlineWaitMs: o.restartTimeoutMs, changes })
  const alerts = options.alertWebhookUrl ? createAlertSender({
    url: options.alertWebhookUrl, secret: options.alertWebhookSecret, log, clock,
    onOutcome: (alert, result) => metrics.counters.alert(alert.type, result),
  }) : null
  // In cluster mode healing's decisions are the fleet's (hub/cluster/healing*.ts), not this hub's.
  const healing = new Healing(fleet, rollouts, {
    clock, log, newId, changes, settings: options.healing, alerts, watchFleet: !options.cluster, pausedChanged: () => fleetState?.pausedChanged(),
  })
  // A single hub keeps these in its data dir (hub/store/); a cluster, in its database.
  const fleetState = options.fleetStateStore && !options.cluster
    ? new FleetSaver({ fleet, rollouts, healing, changes, store: options.fleetStateStore, clock, log, retryMs: o.storeRetryMs })
    : null
  if (fleetState && options.restoredFleetState) fleetState.restore(options.restoredFleetState)
  const revocations = options.revocations ?? createMemoryRevocationStore(clock)
  const verifyToken = createTokenVerifier(options.secret, { clock, revocations, mac: options.tokenMac })
  const peerOf = (c: Context): string | null => {
    try {
      return options.remoteAddress?.(c) ?? null
    } catch {
      return null
    }
  }
  const hubId = options.hubId ?? `hub-${crypto.randomUUID().slice(0, 8)}`
  // Its sources (admin, sockets, streams) are read at scrape time, once they all exist.
  const metrics = createHubMetrics({
    hubId, clustered: options.cluster !== undefined, clock, changes, fleet, process: options.processMetrics,
    readFleet: async () => ({ agents: (await admin.listAgents({})).agents, queuedTasks: await (cluster?.queuedTasks?.() ?? tasks.waitingCount) }),
    connections: () => sockets.size, eventClients: () => streams.size,
  })
  const cluster = options.cluster?.({
    hubId, fleet, changes, clock, log, newId, healing, alerts, alertOfflineMs: o.alertOfflineMs, acceptTimeoutMs: o.acceptTimeoutMs, graceMs: o.taskGraceMs,
    maxTaskAttempts: o.maxTaskAttempts, maxFinishedTasks: o.maxFinishedTasks, taskTimeoutMs: o.taskTimeoutMs, restartTimeoutMs: o.restartTimeoutMs,
    metrics: metrics.counters, maxQueuedTasks: o.maxQueuedTasks,
  })
  // In cluster mode the healing decider's hub sends them, once for the fleet (hub/cluster/runtime.ts).
  const fleetAlerts = alerts && !cluster
    ? startLocalFleetAlerts({ fleet, rollouts, changes, alerts, offlineMs: o.alertOfflineMs, clock, log })
    : null
  const admin = countTaskCreation(
    cluster?.admin ?? createLocalAdmin({ fleet, tasks, rollouts, healing, hubId, maxQueuedTasks: o.maxQueuedTasks }), metrics.counters)
  const events = cluster?.events ?? new LiveEvents({ changes, fleet, tasks, rollouts, healing, hubId, log: { capacity: options.eventBuffer } })
  // A single hub's events are all its own; a cluster's are the fleet's (its own reach the counters from hub/cluster/events.ts).
  // Subscribed before the streams, so the views are read before they are serialized.
  const unfollowEvents = cluster ? null : metrics.followOwnEvents(events.log)
  const history = new MetricsHistory({ clock, readAgents: async () => (await admin.listAgents({})).agents })
  history.start(events.log)
  const streams = new EventStreams(events.log, { maxClients: o.maxEventClients, ...options.eventStream, log })
  const refusals = new RefusalLog({ log, clock })
  const audit = new AuditTrail({ store: options.audit ?? createMemoryAuditStore({ log }), publish: (record) => events.publish('audit', record), clock })
  const memoryOutputs = new MemoryTaskOutputs(() => clock.now())
  const fileOutputs = !cluster?.outputs && options.outputFiles
    ? new FileTaskOutputs(memoryOutputs, options.outputFiles.dir, options.outputFiles.files, log)
    : null
  void fileOutputs?.start((id) => tasks.get(id) !== undefined).catch((err) => log.warn('task output dir unusable', { error: String(err) }))
  const outputs = cluster?.outputs ?? fileOutputs ?? memoryOutputs
  forgetOutput = (ids) => outputs.forget?.(ids)
  const closing = new AbortController()
  const sockets = createSocketHub({
    fleet, tasks: timeTaskAcceptance(cluster?.tasks ?? tasks, metrics.counters), joinCluster: cluster?.admit, leaveCluster: cluster?.leave,
    verifyToken, log, clock, outputs, refusals,
    identifyTimeoutMs: o.identifyTimeoutMs, idleTimeoutMs: o.idleTimeoutMs,
    maxConnections: o.maxConnections, maxFramesPerS: o.maxFramesPerS, maxPending: o.maxPending,
    terminate: options.terminateSocket, setMaxPayload: options.setMaxPayload, unsentBytes: options.unsentBytes ?? rawBufferedAmount,
  })

  // Revoked on another hub of the cluster: this hub's connections with those tokens go too.
  // Only connections whose token is now refused: one that identified since with a token minted
  // after the revoke stays.
  const unwatchRevocations = revocations.subscribe?.(() => sockets.closeRevoked((claims) => revocations.isRevoked(claims)))

  // Also the guard of any other route the role table covers (GET /metrics).
  const accessGate = createAccessGate({ verifyToken, audit, peerOf, log, clock })
  const limitBody: MiddlewareHandler = bodyLimit({
    maxSize: o.maxBodyBytes,
    onError: (c) => c.json({ error: ERROR.PAYLOAD_TOO_LARGE, max_bytes: o.maxBodyBytes }, 413),
  })

  const app = new Hono()
    .use(securityHeaders)
    .use(upgradesOnlyAtWs)
    .get('/health', (c) => {
      // Cluster mode: the database (its lease renewals), else the task and fleet state files.
      const storage = cluster?.storage() ?? worseHealth(tasks.storage, fleetState?.storage)
      if (storage.failing_since === null) return c.json({ status: 'ok' as const }, 200)
      return c.json({ status: 'degraded' as const, storage: 'failing' as const, ...storage }, 503)
    })
    .route('/', dashboardRoutes())
    .get(
      '/ws',
      async (c, next) => {
        const isUpgrade = c.req.header('upgrade')?.toLowerCase() === 'websocket'
        const refusal = isUpgrade ? sockets.refusal() : null
        if (refusal) return c.json({ error: refusal }, 503)
        await next()
      },
      options.upgradeWebSocket((c) => sockets.events(peerOf(c))),
      (c) => c.json({ error: ERROR.UPGRADE_REQUIRED, detail: 'GET /ws is a WebSocket endpoint' }, 426),
    )
    // Every /api/admin route: the token, the role the route table asks, the audit record. Before
    // the body limit, so a refused 413 is audited too.
    .use('/api/admin/*', accessGate)
    // Only requests that can carry a body pay for the check: on Node, touching the body of a
    // GET builds a whole Request (measured: a third of GET throughput). Mounted for the methods
    // that can, so a GET does not even pass through it.
    .on(BODY_METHODS, '/api/*', limitBody)
    .route('/', metricsRoutes({ metrics, history, verifyToken, peerOf, log }))
    .route('/', enrollRoutes({
      secret: options.secret, revocations, joinUses: options.joinUses ?? createMemoryJoinUses(clock), peerOf, clock, log,
      isKnownAgent: async (agentId) => (await admin.getAgent(agentId)) !== null,
      audited: auditedRoute({ audit, peerOf, log }, 'enroll', 'agent_id'),
    }))
    .route('/api/admin', accessRoutes({ secret: options.secret, audit, clock, log }))
    .route('/api/admin', adminRoutes({
      admin, streams, verifyToken, log, output: { outputs, signal: closing.signal },
      tokens: { secret: options.secret, revocations, bus: fleet.bus, closeToken: sockets.closeToken, clock },
    }))

  // No auth: the document describes the API, it holds nothing of the fleet.
  app.get('/api/openapi.json', openApiHandler(() => app.routes))
  app.notFound((c) => c.json({ error: ERROR.NOT_FOUND }, 404))
  app.onError((err, c) => {
    if (err instanceof StorageUnavailable) {
      log.error('storage unavailable', { path: c.req.path, error: err.message })
      return c.json({ error: ERROR.STORAGE_UNAVAILABLE }, 503)
    }
    if (err instanceof QueueFull) return c.json({ error: ERROR.QUEUE_FULL }, 503)
    log.error('request failed', { path: c.req.path, error: err.message })
    return c.json({ error: ERROR.INTERNAL_ERROR }, 500)
  })

  return {
    app,
    hubId,
    fleet,
    tasks,
    rollouts,
    healing,
    revocations,
    /** The audit trail (hub/access/audit.ts): every changing admin request, allowed or refused. */
    audit,
    /** A single hub's saves of restarts, rollouts and healing (hub/store/); null without a store. */
    fleetState,
    /** Every agent, task, rollout and healing change, as it happens (see changes.ts). */
    changes,
    /**
     * The events stream's source: feed changes (healing's included) become events on their own;
     * `events.publish(kind, view)` appends one for a module that is not on the change feed.
     */
    events,
    /** `GET /metrics`'s registry and counters (hub/metrics/). */
    metrics,
    /** What the dashboard's charts start from. */
    history,
    /** Stops timers, ends every events stream and closes every socket (code 1001). */
    close(): void {
      unwatchRevocations?.()
      unfollowEvents?.()
      history.close()
      metrics.close()
      fleetAlerts?.stop()
      closing.abort()
      fileOutputs?.close()
      streams.close()
      events.close()
      sockets.close()
      cluster?.close()
      fleet.close()
      tasks.close()
      fleetState?.close()
      rollouts.close()
      healing.close()
    },
  }
}

export type Hub = ReturnType<typeof createHub>
export type HubApp = Hub['app']

/**
 * Every answer: never cached (admin data, tokens), never sniffed as another type. An answer that
 * set its own caching (the dashboard's assets, revalidated) keeps it.
 */
const securityHeaders: MiddlewareHandler = async (c, next) => {
  await next()
  const headers = c.res.headers
  if (!headers.has('cache-control')) headers.set('cache-control', 'no-store')
  headers.set('x-content-type-options', 'nosniff')
}

/**
 * A WebSocket upgrade anywhere but /ws is refused before any route runs: routed, an upgrade
 * to the events stream made the Node hub read its own endless answer into memory.
 */
const upgradesOnlyAtWs: MiddlewareHandler = async (c, next) => {
  if (c.req.path !== '/ws' && c.req.header('upgrade')?.toLowerCase() === 'websocket') {
    return c.json({ error: ERROR.NOT_FOUND, detail: 'WebSocket upgrades are served at /ws only' }, 404)
  }
  await next()
}

/** The `detail` of an overdue task's healing action. */
function overdueDetail(overdue: OverdueTask): string {
  return `task ${overdue.task_id} not heard of in ${Math.round(overdue.waited_ms / SECOND)} s`
}

/** `bufferedAmount` of the runtime's socket: ws on Node and the WebSocket on Deno both have it. */
function rawBufferedAmount(ws: WSContext): number {
  const amount = (ws.raw as { bufferedAmount?: unknown } | undefined)?.bufferedAmount
  return typeof amount === 'number' ? amount : 0
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
