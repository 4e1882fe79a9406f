/**
 * The hub's settings: one row per environment variable. The environment parser (config.ts),
 * createHub's defaults (app.ts), the error messages and README's Hub table all read this.
 */
import type { Setting } from '../shared/settings.ts'

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
    meaning: 'holds the secret file, the task table `hub-tasks.json`, the revocations `hub-revocations.json` and `npm start`\'s pm2 home and demo token files',
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
    meaning: 'open WebSockets; past it an upgrade is answered `503 {"error":"too_many_connections"}` (or closed 1013 if it raced past the check)',
  },
  maxFramesPerS: {
    env: 'AGENTCOM_MAX_FRAMES_PER_S', type: 'integer', min: 1, max: 1_000_000, default: 100,
    meaning: 'per-socket frame budget; a frame over it gets `rate_limited`, sustained flooding closes the socket with 4029',
  },
  maxBodyBytes: {
    env: 'AGENTCOM_MAX_BODY_BYTES', type: 'integer', min: 1024, max: 1024 * 1024 * 1024, default: 1024 * 1024,
    meaning: 'largest admin request body; larger is `413 {"error":"payload_too_large"}`',
  },
} as const satisfies Record<string, Setting>
