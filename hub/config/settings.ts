/**
 * The hub's settings: one row per environment variable. The environment parser (config.ts),
 * createHub's defaults (app.ts), the error messages and README's Hub table all read this.
 */
import type { Setting } from '../../shared/settings.ts'

/** A secret shorter than this is refused at start. */
export const MIN_SECRET_LENGTH = 32

export const HUB_SETTINGS = {
  port: { env: 'PORT', type: 'integer', min: 0, max: 65535, default: 8787, meaning: 'listen port (`0` picks one)' },
  host: { env: 'HOST', type: 'string', default: '127.0.0.1', meaning: 'listen address' },
  secret: {
    env: 'AGENTCOM_SECRET', type: 'secret', range: `at least ${MIN_SECRET_LENGTH} characters`, default: null,
    meaning: 'HS256 signing key. Unset: a secret generated once in `$AGENTCOM_DATA_DIR/hub-secret` (mode 0600), shared with the token command',
  },
  dataDir: {
    env: 'AGENTCOM_DATA_DIR', type: 'string', default: '.agentcom',
    meaning: 'holds the secret file, the task table `hub-tasks.json`, the revocations `hub-revocations.json`, the join tokens\' uses and the enrolled agent ids `hub-join-uses.json`, the audit trail `hub-audit.jsonl`, the fleet state `hub-fleet.json` (restarts, rollouts, quarantines, healing history) and `npm start`\'s pm2 home and demo token files',
  },
  restartTimeoutS: {
    env: 'AGENTCOM_RESTART_TIMEOUT_S', type: 'integer', min: 1, max: 86_400, default: 120,
    meaning: 'a restarted agent not identified again this long after it went down makes its restart `failed`',
  },
  identifyTimeoutMs: {
    env: 'AGENTCOM_IDENTIFY_TIMEOUT_MS', type: 'integer', min: 1, max: 86_400_000, default: 10_000,
    meaning: 'the first frame must be `identify` within this, else close 4008',
  },
  idleTimeoutMs: {
    env: 'AGENTCOM_IDLE_TIMEOUT_MS', type: 'integer', min: 1, max: 86_400_000, default: 60_000,
    meaning: 'a socket silent this long is closed as dead (4003); sidecars ping every 15 s',
  },
  acceptTimeoutMs: {
    env: 'AGENTCOM_ACCEPT_TIMEOUT_MS', type: 'integer', min: 1, max: 86_400_000, default: 30_000,
    meaning: 'an assigned task not accepted within this goes back to the queue',
  },
  taskGraceMs: {
    env: 'AGENTCOM_TASK_GRACE_MS', type: 'integer', min: 1, max: 86_400_000, default: 30_000,
    meaning: 'how long a disconnected agent has to come back and report its task before the task is queued again',
  },
  maxConnections: {
    env: 'AGENTCOM_MAX_CONNECTIONS', type: 'integer', min: 1, max: 1_000_000, default: 10_000,
    meaning: 'identified agents\' sockets; past it an upgrade is answered `503 {"error":"too_many_connections"}` (an identify that raced past the check is closed 1013)',
  },
  maxFramesPerS: {
    env: 'AGENTCOM_MAX_FRAMES_PER_S', type: 'integer', min: 1, max: 1_000_000, default: 1000,
    meaning: 'per-socket frame budget; a frame over it gets `rate_limited`, sustained flooding closes the socket with 4029',
  },
  maxPending: {
    env: 'AGENTCOM_MAX_PENDING', type: 'integer', min: 1, max: 1_000_000, default: 1024,
    meaning: 'sockets waiting unidentified; an upgrade past it is `503 {"error":"too_many_pending"}` and the silent one waiting longest gives way (closed 1013), so the next attempt gets in: silent sockets never keep an agent out. They never take `AGENTCOM_MAX_CONNECTIONS` slots, which count identified agents only',
  },
  maxEventClients: {
    env: 'AGENTCOM_MAX_EVENT_CLIENTS', type: 'integer', min: 1, max: 1_000_000, default: 256,
    meaning: 'open `GET /api/admin/events` streams; past it the next is answered `503 {"error":"too_many_clients"}`',
  },
  maxQueuedTasks: {
    env: 'AGENTCOM_MAX_QUEUED_TASKS', type: 'integer', min: 1, max: 100_000_000, default: 100_000,
    meaning: 'tasks waiting in the queue (the whole cluster\'s in cluster mode); past it `POST /api/admin/tasks` is `503 {"error":"queue_full"}` and no task is created',
  },
  offlineTtlS: {
    env: 'AGENTCOM_OFFLINE_TTL_S', type: 'integer', min: 1, max: 31_536_000, default: 86_400,
    meaning: 'an offline agent holding no task is forgotten this long after it went offline',
  },
  maxBodyBytes: {
    env: 'AGENTCOM_MAX_BODY_BYTES', type: 'integer', min: 1024, max: 1024 * 1024 * 1024, default: 1024 * 1024,
    meaning: 'largest admin request body; larger is `413 {"error":"payload_too_large"}`',
  },
  databaseUrl: {
    env: 'AGENTCOM_DATABASE_URL', type: 'secret', range: '`postgres://...`', default: null,
    meaning: 'cluster mode: hubs sharing this PostgreSQL database share one fleet (see `docs/cluster.md`). Unset: one hub, tasks in the data dir',
  },
  hubId: {
    env: 'AGENTCOM_HUB_ID', type: 'string', range: '1 to 64 characters of `A-Za-z0-9._-`', default: null,
    defaultText: 'random per process', meaning: 'this hub\'s name in the cluster, shown as `hub_id` on its agents',
  },
  hubLeaseS: {
    env: 'AGENTCOM_HUB_LEASE_S', type: 'integer', min: 3, max: 3600, default: 15,
    meaning: 'cluster mode: a hub that has not renewed its lease (every third of this) for this long is counted gone, and its agents offline',
  },
  healCrashLimit: {
    env: 'AGENTCOM_HEAL_CRASH_LIMIT', type: 'integer', min: 1, max: 1000, default: 3,
    meaning: 'unplanned restarts within the healing window that quarantine an agent (drained, `quarantined`, alerted)',
  },
  healWindowS: {
    env: 'AGENTCOM_HEAL_WINDOW_S', type: 'integer', min: 1, max: 7 * 86_400, default: 600,
    meaning: 'the healing window: crashes and healing restarts per agent are counted within it',
  },
  healMaxMemoryMb: {
    env: 'AGENTCOM_HEAL_MAX_MEMORY_MB', type: 'integer', min: 1, max: 1024 * 1024, default: null, defaultText: 'unset (rule off)',
    meaning: 'an agent whose last two stats reports are above this RSS gets a graceful restart, reason `heal:memory`',
  },
  healMaxConcurrent: {
    env: 'AGENTCOM_HEAL_MAX_CONCURRENT', type: 'integer', min: 1, max: 10_000, default: 1,
    meaning: 'healing restarts in flight in the whole fleet (none while a rollout runs)',
  },
  healCooldownS: {
    env: 'AGENTCOM_HEAL_COOLDOWN_S', type: 'integer', min: 0, max: 7 * 86_400, default: 300,
    meaning: 'no healing restart of an agent within this of the end of its last one',
  },
  healMaxPerAgent: {
    env: 'AGENTCOM_HEAL_MAX_PER_AGENT', type: 'integer', min: 1, max: 1000, default: 3,
    meaning: 'healing restarts per agent within the window; past it the alert `heal_escalated` instead',
  },
  alertWebhookUrl: {
    env: 'AGENTCOM_ALERT_WEBHOOK_URL', type: 'url', range: '`http://` or `https://`', default: null, defaultText: 'unset (no alerts sent)',
    meaning: 'each healing alert is POSTed there as JSON, retried for up to 5 minutes ([docs/healing.md](docs/healing.md))',
  },
  alertWebhookSecret: {
    env: 'AGENTCOM_ALERT_WEBHOOK_SECRET', type: 'secret', range: '1 to 1024 characters', default: null, defaultText: 'unset (unsigned)',
    meaning: 'each alert delivery carries `X-AgentCom-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` under it ([docs/access.md](docs/access.md))',
  },
  alertOfflineS: {
    env: 'AGENTCOM_ALERT_OFFLINE_S', type: 'integer', min: 1, max: 7 * 86_400, default: 300,
    meaning: 'an agent offline this long, with no restart of it in progress, alerts `agent_offline` (once; `agent_recovered` when back)',
  },
} as const satisfies Record<string, Setting>
