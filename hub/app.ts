/**
 * The hub: one Hono app serving the admin API and the sidecars' WebSocket upgrades.
 * Portable: imports only hono, valibot and Web APIs. Runtime entries (node.ts, deno.ts)
 * pass in their `upgradeWebSocket` and serve `hub.app.fetch`.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono'
import type { WSContext } from 'hono/ws'
import { systemClock } from '../shared/time.ts'
import { createLogger } from '../shared/log.ts'
import { createTokenVerifier } from './auth/auth.ts'
import { createMemoryRevocationStore } from './auth/revocations.ts'
import { assertSecret } from './auth/secret.ts'
import { ERROR } from '../shared/protocol.ts'
import { ChangeFeed } from './events/changes.ts'
import { createFleetRestarts } from './agents/fleet-restarts.ts'
import { HubTaskOwner } from './tasks/hub-task-owner.ts'
import { overdueDetail } from './tasks/overdue.ts'
import { createHubRollouts } from './rollouts/local-rollouts.ts'
import { resolveHealingSettings } from './healing/healing-settings.ts'
import { createHubHealing } from './healing/healing-runtime.ts'
import { createAlertSender } from './alerts/alerts.ts'
import { startLocalFleetAlerts } from './alerts/local-fleet-alerts.ts'
import { createMemoryAlertEpisodes } from './alerts/fleet-alerts.ts'
import { createSocketHub } from './sockets/socket.ts'
import { adminRoutes } from './api/admin-routes.ts'
import { dashboardRoutes } from './dashboard/dashboard-routes.ts'
import { createAdmin, StorageUnavailable } from './api/admin.ts'
import { createMemoryAdminStore } from './api/memory-admin-store.ts'
import { LiveEvents } from './events/live-events.ts'
import { MemoryEventLogStore } from './events/event-log-store.ts'
import { memoryEventViews } from './events/memory-views.ts'
import { EventStreams } from './events/event-stream.ts'
import { DEFAULTS, type HubOptions } from './config/hub-options.ts'
import { httpHardening } from './security/headers.ts'
import { createHubMetrics } from './metrics/hub-metrics.ts'
import { MetricsHistory } from './metrics/history.ts'
import { metricsRoutes } from './metrics/metrics-routes.ts'
import { countTaskCreation, timeTaskAcceptance } from './metrics/wrappers.ts'
import { openApiHandler } from './api/openapi.ts'
import { dispatchAtOnce } from './api/dispatch.ts'
import { enrollRoutes } from './enroll/enroll-routes.ts'
import { createMemoryJoinUses } from './enroll/join-uses.ts'
import { AuditTrail } from './access/audit.ts'
import { createMemoryAuditStore } from './access/audit-file.ts'
import { auditedRoute, createAccessGate } from './access/gate.ts'
import { accessRoutes } from './access/access-routes.ts'
import { MemoryTaskOutputs } from './tasks/output.ts'
import { FileTaskOutputs } from './tasks/file-output.ts'
import { RefusalLog } from './security/refusal-log.ts'
import { QueueFull } from './security/queue-cap.ts'
import { limitBodies } from './security/body-limit.ts'
import { FleetSaver, worseHealth } from './store/fleet-saver.ts'
import { answerOnceSaved } from './store/saved-answers.ts'

export { DEFAULTS } from './config/hub-options.ts'
export type { HubOptions, HubStore } from './config/hub-options.ts'

/** The methods whose requests may carry a body, which the admin API limits (AGENTCOM_MAX_BODY_BYTES). */
const BODY_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']


export function createHub(options: HubOptions) {
  assertSecret(options.secret)
  const o = { ...DEFAULTS, ...stripUndefined(options) }
  for (const key of ['maxBodyBytes', 'maxConnections', 'maxFramesPerS', 'maxPending', 'maxEventClients', 'maxQueuedTasks'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 1) throw new Error(`options.${key} must be a positive integer, got ${o[key]}`)
  }
  const clock = options.clock ?? systemClock
  const log = options.log ?? createLogger('hub')
  const newId = options.newId ?? (() => crypto.randomUUID())

  const changes = new ChangeFeed((err, change) => log.error('change listener failed', { change: change.type, error: String(err) }))
  if (options.cluster && !options.store?.admin) throw new Error('options.store is required with options.cluster (the cluster runtime\'s store, its admin included)')
  // Restarts: one engine (hub/agents/restart-engine.ts) over this hub's memory, or over the cluster's
  // rows; the cluster's lease decides which agents this hub holds, its bus tells the other hubs.
  const fleetRestarts = createFleetRestarts({
    clock, log, newId, changes, offlineTtlMs: o.offlineTtlMs, timeoutMs: o.restartTimeoutMs, store: options.store?.restarts,
    holds: options.cluster && ((agentId) => cluster!.holds(agentId)), moved: options.cluster && ((restart) => cluster!.restartMoved(restart)),
  })
  const fleet = fleetRestarts.fleet
  // Tasks and their output: a cluster's are its rows, handed in (HubStore.tasks); one hub's are
  // in memory, output saved in the data dir when the hub has one.
  const sharedTasks = options.store?.tasks?.({ fleet, log, maxAttempts: o.maxTaskAttempts, maxQueuedTasks: o.maxQueuedTasks })
  // Shared tasks are a cluster's rows: they go with its store and attach, never alone.
  if (!options.cluster !== !sharedTasks) throw new Error('options.store.tasks goes with options.cluster, and only with it (the cluster runtime\'s store)')
  const memoryOutputs = sharedTasks ? null : new MemoryTaskOutputs(() => clock.now())
  const fileOutputs = memoryOutputs && options.outputFiles
    ? new FileTaskOutputs(memoryOutputs, options.outputFiles.dir, options.outputFiles.files, log)
    : null
  const localOutputs = fileOutputs ?? memoryOutputs
  // Subscribed in this order: a freed agent is offered queued tasks before rollouts step on.
  // The hub's tasks: the one task engine (hub/tasks/task-engine.ts) over the memory store or the cluster's rows.
  const tasks: HubTaskOwner = new HubTaskOwner({
    shared: sharedTasks, holds: options.cluster && ((agentId) => cluster!.holds(agentId)),
    fleet, changes, log, newId, now: () => clock.now(), store: options.taskStore ?? null, storeRetryMs: o.storeRetryMs,
    maxAttempts: o.maxTaskAttempts, maxFinished: o.maxFinishedTasks, defaultTimeoutMs: o.taskTimeoutMs, maxQueuedTasks: o.maxQueuedTasks,
    acceptTimeoutMs: o.acceptTimeoutMs, graceMs: o.taskGraceMs,
    onForget: (ids) => localOutputs?.forget(ids),
    // THE hook for an agent that never reported its task: a healing action (a force restart
    // within the healing budget). Called from a timer, so never before `healing` exists.
    onOverdue: options.onOverdue ?? ((overdue) => healing.taskOverdue(overdue.agent_id, overdueDetail(overdue))),
  })
  if (!tasks.isShared && options.restoredTasks?.length) {
    tasks.restore(options.restoredTasks)
    log.info('tasks restored', { tasks: options.restoredTasks.length })
  }
  // After the restore: files of tasks this hub no longer knows go.
  void fileOutputs?.start((id) => tasks.get(id) !== undefined).catch((err) => log.warn('task output dir unusable', { error: String(err) }))
  // Rollouts: one engine over this hub's memory (localRollouts), or over the cluster's rows.
  const { engine: rollouts, local: localRollouts } = createHubRollouts({
    fleet, changes, clock, log, newId, offlineWaitMs: o.restartTimeoutMs, store: options.store?.rollouts,
    deliverRestart: (id) => fleetRestarts.restarts.deliver(id), saver: (): FleetSaver | null => fleetState,
  })
  const rolloutRecords = localRollouts?.store ?? { peek: () => undefined }
  const alerts = options.alertWebhookUrl ? createAlertSender({
    url: options.alertWebhookUrl, secret: options.alertWebhookSecret, log, clock,
    onOutcome: (alert, result) => metrics.counters.alert(alert.type, result),
  }) : null
  const hubId = options.hubId ?? `hub-${crypto.randomUUID().slice(0, 8)}`
  // Healing: one runtime (hub/healing/healing-runtime.ts) over this hub's memory saved in the data
  // dir (localHealing), or over the cluster's rows, judged alike by these settings.
  const { runtime: healing, local: localHealing } = createHubHealing({
    fleet, changes, clock, log, newId, hubId, settings: resolveHealingSettings(options.healing), alerts, offlineTtlMs: o.offlineTtlMs,
    store: options.store?.healing, holds: options.cluster ? (agentId) => cluster!.holds(agentId) : undefined,
    deliverRestart: (id) => fleetRestarts.restarts.deliver(id).catch((err) => log.warn('restart delivery failed', { restart_id: id, error: String(err) })),
    // Over a given store (tests) there is no memory to read: no rollout counts as running.
    rolloutRunning: () => localRollouts?.store.ids().some((id) => localRollouts.store.peek(id)?.state === 'running') ?? false,
    saver: () => fleetState,
  })
  // One hub's fleet alert episodes; a cluster claims them in its rows (hub/alerts/pg-fleet-alerts.ts).
  const alertEpisodes = options.cluster ? null : createMemoryAlertEpisodes(1000, (agentId) => fleetState?.alertsChanged(agentId))
  // A single hub keeps these in its data dir (hub/store/); a cluster, in its database.
  const fleetState: FleetSaver | null = options.fleetStateStore && !options.cluster
    ? new FleetSaver({ fleet, rollouts: localRollouts!, healing: localHealing!, alertEpisodes: alertEpisodes!, changes, store: options.fleetStateStore, clock, log, retryMs: o.storeRetryMs })
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
  // Its sources (admin, sockets, streams) are read at scrape time, once they all exist.
  const metrics = createHubMetrics({
    hubId, clustered: options.cluster !== undefined, clock, changes, fleet, process: options.processMetrics,
    readFleet: async () => ({ agents: (await admin.listAgents({})).agents, queuedTasks: await tasks.queuedTasks() }),
    connections: () => sockets.size, eventClients: () => streams.size,
  })
  if (options.cluster && !options.store?.events) throw new Error('options.store.events is required with options.cluster (the cluster runtime\'s event rows)')
  // The events stream: one owner over this hub's memory log, or over the cluster's rows (the fleet's one stream).
  const events = new LiveEvents({
    changes, log, ...(options.store?.events?.({ rollouts, healing }) ?? {
      store: new MemoryEventLogStore({ capacity: options.eventBuffer }),
      views: memoryEventViews({ fleet, tasks, rollouts: rolloutRecords, healing: localHealing!, hubId }),
    }),
    // A cluster's counters count the views of this hub's own changes; a single hub's, its whole log (below).
    ownView: options.cluster && ((kind, view) => metrics.counters.view(kind, view)),
  })
  const cluster = options.cluster?.({
    fleet, changes, log, newId, healing, alerts, alertOfflineMs: o.alertOfflineMs, graceMs: o.taskGraceMs,
    maxFinishedTasks: o.maxFinishedTasks, taskTimeoutMs: o.taskTimeoutMs, restartTimeoutMs: o.restartTimeoutMs,
    metrics: metrics.counters, restarts: fleetRestarts.restarts, rollouts, tasks: tasks.engine, events,
  })
  // In cluster mode the healing decider's hub sends them, once for the fleet (hub/cluster/runtime.ts).
  const fleetAlerts = alerts && !cluster
    ? startLocalFleetAlerts({ fleet, rollouts, changes, alerts, episodes: alertEpisodes!, offlineMs: o.alertOfflineMs, clock, log })
    : null
  // One admin backend over either store: a cluster's rows, or this hub's memory (whose answers wait for its saves).
  const adminStore = options.store?.admin?.({ changes, healing }) ?? createMemoryAdminStore({ fleet, healing, hubId })
  const admin = countTaskCreation(answerOnceSaved(
    createAdmin({ store: adminStore, tasks: tasks.admin, restarts: fleetRestarts.restarts, rollouts, defaultTimeoutMs: o.taskTimeoutMs }), fleetState), metrics.counters)
  // A single hub's events are all its own; a cluster's are the fleet's (its own reach the counters through ownView).
  // Subscribed before the streams, so the views are read before they are serialized.
  const unfollowEvents = cluster ? null : metrics.followOwnEvents(events.log)
  const history = new MetricsHistory({ clock, readAgents: async () => (await admin.listAgents({})).agents })
  // From the events after those already in the store (a cluster's newest, read at start), which are not news.
  void events.ready.then(() => { if (!closing.signal.aborted) history.start(events.log) })
  const streams = new EventStreams(events.log, { maxClients: o.maxEventClients, ...options.eventStream, log }, events.ready)
  const refusals = new RefusalLog({ log, clock })
  const audit = new AuditTrail({ store: options.audit ?? createMemoryAuditStore({ log }), publish: (record) => events.publish('audit', record), clock })
  // A cluster's output is in its table.
  const outputs = sharedTasks?.outputs ?? localOutputs!
  const closing = new AbortController()
  const sockets = createSocketHub({
    fleet, tasks: timeTaskAcceptance(tasks, metrics.counters), joinCluster: cluster?.admit, leaveCluster: cluster?.leave,
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
  const accessGate = createAccessGate({ verifyToken, audit, peerOf, log, clock, authorizationHeader: options.authorizationHeader })
  const limitBody: MiddlewareHandler = limitBodies(o.maxBodyBytes, (c) => c.json({ error: ERROR.PAYLOAD_TOO_LARGE, max_bytes: o.maxBodyBytes }, 413))

  const app = new Hono()
    .use(httpHardening(options.upgradeHeader))
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
        const isUpgrade = (options.upgradeHeader ? options.upgradeHeader(c) : c.req.header('upgrade'))?.toLowerCase() === 'websocket'
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
      isKnownAgent: async (agentId) => (await admin.getAgent(agentId)) !== null, rememberEnrolledMs: o.offlineTtlMs,
      audited: auditedRoute({ audit, peerOf, log }, 'enroll', 'agent_id'),
    }))
    .route('/api/admin', accessRoutes({ secret: options.secret, audit, clock, log }))
    .route('/api/admin', adminRoutes({
      admin, streams, verifyToken, log, output: { outputs, signal: closing.signal },
      tokens: { secret: options.secret, revocations, bus: fleet.bus, closeToken: sockets.closeToken, clock },
    }))

  // No auth: the document describes the API, it holds nothing of the fleet.
  app.get('/api/openapi.json', openApiHandler(() => app.routes))
  const notFound = (c: Context) => c.json({ error: ERROR.NOT_FOUND }, 404)
  const onError = (err: Error, c: Context) => {
    if (err instanceof StorageUnavailable) {
      log.error('storage unavailable', { path: c.req.path, error: err.message })
      return c.json({ error: ERROR.STORAGE_UNAVAILABLE }, 503)
    }
    if (err instanceof QueueFull) return c.json({ error: ERROR.QUEUE_FULL }, 503)
    log.error('request failed', { path: c.req.path, error: err.message })
    return c.json({ error: ERROR.INTERNAL_ERROR }, 500)
  }
  app.notFound(notFound)
  app.onError(onError)
  // A chain that answers at once (an admin GET) answers without a promise (hub/api/dispatch.ts).
  app.fetch = dispatchAtOnce(app as unknown as Hono, { notFound, onError })

  return {
    app,
    hubId,
    fleet,
    /** Restarts (hub/agents/restart-engine.ts): over this hub's memory, or over the cluster's rows. */
    restarts: fleetRestarts.restarts,
    /** The hub's tasks (hub/tasks/hub-task-owner.ts): one hub's in memory, or the cluster's rows (isShared; its admin reads them). */
    tasks,
    /** Rollouts (hub/rollouts/engine.ts): over this hub's memory, or over the cluster's rows. */
    rollouts,
    /** Healing (hub/healing/healing-runtime.ts): over this hub's memory, or over the cluster's rows. */
    healing,
    /** One hub's part of healing (hub/healing/local-healing.ts: its saves, its steps on the change feed); null in cluster mode. */
    localHealing,
    revocations,
    /** The audit trail (hub/access/audit.ts): every changing admin request, allowed or refused. */
    audit,
    /** A single hub's saves of restarts, rollouts and healing (hub/store/); null without a store. */
    fleetState,
    /** Which fleet alerts went out (one hub: saved with fleetState); null in cluster mode, whose episodes are rows. */
    alertEpisodes,
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
      fleetRestarts.restarts.close()
      fleet.close()
      tasks.close()
      fleetState?.close()
      localRollouts?.close()
      rollouts.close()
      localHealing?.close()
      healing.close()
      alerts?.close()
    },
  }
}

export type Hub = ReturnType<typeof createHub>
export type HubApp = Hub['app']

/** `bufferedAmount` of the runtime's socket: ws on Node and the WebSocket on Deno both have it. */
function rawBufferedAmount(ws: WSContext): number {
  const amount = (ws.raw as { bufferedAmount?: unknown } | undefined)?.bufferedAmount
  return typeof amount === 'number' ? amount : 0
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
