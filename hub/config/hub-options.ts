/**
 * What createHub takes (HubOptions) and its defaults (DEFAULTS): the settings table's, and those
 * no variable sets. The runtime entries fill them from the environment (config.ts).
 */
import type { Context } from 'hono'
import type { UpgradeWebSocket, WSContext } from 'hono/ws'
import { SECOND, type Clock } from '../../shared/time.ts'
import type { Logger } from '../../shared/log.ts'
import type { TokenMac } from '../auth/auth.ts'
import type { RevocationStore } from '../auth/revocations.ts'
import { HUB_SETTINGS as S } from './settings.ts'
import type { StoredTask, TaskStore } from '../tasks/task-store.ts'
import type { HealingSettings } from '../healing/healing-settings.ts'
import type { HealingStore, HealingStoreContext } from '../healing/healing-store.ts'
import type { ClusterAttach } from '../cluster-seam.ts'
import type { RestartEngineDeps } from '../agents/restart-engine.ts'
import type { RolloutStore } from '../rollouts/rollout-store.ts'
import type { OpenAdminStore } from '../api/admin-store.ts'
import type { EventStreamOptions } from '../events/event-stream.ts'
import type { EventsOver } from '../events/live-events.ts'
import type { RolloutEngine } from '../rollouts/engine.ts'
import type { HealingRuntime } from '../healing/healing-runtime.ts'
import type { ProcessMetrics } from '../metrics/hub-metrics.ts'
import type { JoinUseStore } from '../enroll/join-uses.ts'
import type { AuditStore } from '../access/audit-store.ts'
import type { OutputFiles } from '../tasks/file-output.ts'
import type { FleetState, FleetStateStore } from '../store/fleet-state.ts'
import type { OverdueTask } from '../tasks/overdue.ts'
import type { OpenSharedTasks } from '../tasks/shared-tasks.ts'
import type { UpgradeHeader } from '../security/headers.ts'

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
   * dropped without slowing down is closed with 4029. Default 1000: a sidecar sends three frames
   * per task, and 100 capped one agent at about 50 tasks a second (issue 28).
   */
  maxFramesPerS?: number
  /**
   * Sockets waiting unidentified: past this an upgrade is answered 503 `too_many_pending` and
   * the one waiting longest (not checking a token) is closed 1013, so the next attempt gets in.
   * They never count against maxConnections, which caps identified agents only. Default 1024.
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
  /** Where the hub's owners keep their state (given with `cluster`: its rows). Default: this hub's memory. */
  store?: HubStore
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
  /** A request's `upgrade` header, read on every request (Node: hub/node/upgrade-header.ts). Default: `c.req.header('upgrade')`. */
  upgradeHeader?: UpgradeHeader
  /** A request's Authorization header, read by the access gate (Node: hub/node/authorization-header.ts). Default: `c.req.header('authorization')`. */
  authorizationHeader?: (c: Context) => string | undefined
  /** The runtime's version and memory, for `GET /metrics` (hub/node/metrics.ts, hub/deno/metrics.ts). */
  processMetrics?: ProcessMetrics
  clock?: Clock
  log?: Logger
  newId?: () => string
}

/**
 * The stores createHub builds its owners over, one per capability moved onto a store so far
 * (issue 20); a cluster gives its rows (hub/cluster/runtime.ts), one hub defaults to its memory.
 */
export interface HubStore {
  /** One hub's admin answers a restart in the same turn: its store needs `requestNow` (a cluster's admin does not). */
  restarts: RestartEngineDeps['store']
  /** Unset: this hub's memory, saved in its data dir (a single hub steps its rollouts on its own change feed). */
  rollouts?: RolloutStore
  /**
   * What the admin answers read and change (hub/api/admin-store.ts), opened over the hub's
   * change feed and healing runtime once its cluster is attached. Unset: this hub's memory.
   */
  admin?: OpenAdminStore
  /**
   * Tasks shared with other hubs (a cluster's rows, their claim path, the bus's nudge), built
   * over the hub's fleet and settings. Unset: this hub's memory store, saved through `taskStore`.
   */
  tasks?: OpenSharedTasks
  /**
   * Healing's store, opened with this hub's healing settings and restart delivery (a cluster's
   * rows, with its lease and NOTIFY). Unset: this hub's memory, saved in its data dir.
   */
  healing?: (context: HealingStoreContext) => HealingStore
  /**
   * The events stream's log and the views read over it (a cluster's rows, the fleet's one stream),
   * opened with the hub's rollouts and healing. Unset: this hub's memory log, viewed from its memory.
   */
  events?: (context: { rollouts: RolloutEngine; healing: HealingRuntime }) => EventsOver<unknown>
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
