/**
 * The hub's settings from the environment, shared by the Node and Deno entries.
 * Bad settings throw here, at start, with the variable's name.
 */
import { SECOND } from '../shared/time.ts'
import { MIN_SECRET_LENGTH } from './auth.ts'

export interface HubConfig {
  port: number
  host: string
  /** From AGENTCOM_SECRET; null means "use the data dir's hub-secret file". */
  secret: string | null
  dataDir: string
  restartTimeoutMs: number
  /** Advanced settings, for tests and unusual fleets; undefined means the hub's default. */
  identifyTimeoutMs?: number
  idleTimeoutMs?: number
  acceptTimeoutMs?: number
  taskGraceMs?: number
  /** Limits that protect the hub; see HubOptions in app.ts for each one's edge. */
  maxConnections?: number
  maxFramesPerS?: number
  maxBodyBytes?: number
}

export const HUB_DEFAULTS = { port: 8787, host: '127.0.0.1', dataDir: '.agentcom', restartTimeoutS: 120 } as const

/** The accepted range of each limit setting. */
export const LIMIT_RANGES = {
  AGENTCOM_MAX_CONNECTIONS: [1, 1_000_000],
  AGENTCOM_MAX_FRAMES_PER_S: [1, 1_000_000],
  AGENTCOM_MAX_BODY_BYTES: [1024, 1024 * 1024 * 1024],
} as const

export function resolveHubConfig(env: Record<string, string | undefined>): HubConfig {
  const secret = env.AGENTCOM_SECRET || null
  if (secret !== null && secret.length < MIN_SECRET_LENGTH) {
    throw new Error(`AGENTCOM_SECRET must be at least ${MIN_SECRET_LENGTH} characters`)
  }
  return {
    port: intSetting(env, 'PORT', HUB_DEFAULTS.port, 0, 65535),
    host: env.HOST || HUB_DEFAULTS.host,
    secret,
    dataDir: env.AGENTCOM_DATA_DIR || HUB_DEFAULTS.dataDir,
    restartTimeoutMs: intSetting(env, 'AGENTCOM_RESTART_TIMEOUT_S', HUB_DEFAULTS.restartTimeoutS, 1, 86_400) * SECOND,
    identifyTimeoutMs: optionalMs(env, 'AGENTCOM_IDENTIFY_TIMEOUT_MS'),
    idleTimeoutMs: optionalMs(env, 'AGENTCOM_IDLE_TIMEOUT_MS'),
    acceptTimeoutMs: optionalMs(env, 'AGENTCOM_ACCEPT_TIMEOUT_MS'),
    taskGraceMs: optionalMs(env, 'AGENTCOM_TASK_GRACE_MS'),
    maxConnections: optionalInt(env, 'AGENTCOM_MAX_CONNECTIONS'),
    maxFramesPerS: optionalInt(env, 'AGENTCOM_MAX_FRAMES_PER_S'),
    maxBodyBytes: optionalInt(env, 'AGENTCOM_MAX_BODY_BYTES'),
  }
}

function optionalInt(env: Record<string, string | undefined>, name: keyof typeof LIMIT_RANGES): number | undefined {
  const [min, max] = LIMIT_RANGES[name]
  return env[name] ? intSetting(env, name, 0, min, max) : undefined
}

function optionalMs(env: Record<string, string | undefined>, name: string): number | undefined {
  return env[name] ? intSetting(env, name, 0, 1, 86_400_000) : undefined
}

function intSetting(env: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  // Digits only: Number(" ") is 0 and Number("0x10") is 16, neither what was meant.
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`)
  }
  return n
}

/** What reading and creating the secret file takes; each runtime entry supplies its own. */
export interface SecretFiles {
  read(path: string): Promise<string | null>
  /** Creates the file with mode 0600 only if it does not exist; false if it did. */
  createExclusive(path: string, text: string): Promise<boolean>
  mkdirp(path: string): Promise<void>
}

/** The name of the shared secret file inside the data dir. */
export const SECRET_FILE = 'hub-secret'
/** The hub's task table inside the data dir. */
export const TASKS_FILE = 'hub-tasks.json'

/**
 * AGENTCOM_SECRET if set, else the data dir's hub-secret, generated once. The hub and the
 * token command both call this, so they agree without any setup.
 */
export async function ensureSecret(config: Pick<HubConfig, 'secret' | 'dataDir'>, files: SecretFiles): Promise<string> {
  if (config.secret) return config.secret
  const path = `${config.dataDir}/${SECRET_FILE}`
  const existing = (await files.read(path))?.trim()
  if (existing) return checkFileSecret(existing, path)
  await files.mkdirp(config.dataDir)
  const bytes = crypto.getRandomValues(new Uint8Array(32))
  const fresh = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
  if (await files.createExclusive(path, `${fresh}\n`)) return fresh
  // Another process created it first: use theirs.
  return checkFileSecret((await files.read(path))?.trim() ?? '', path)
}

function checkFileSecret(secret: string, path: string): string {
  if (secret.length < MIN_SECRET_LENGTH) throw new Error(`${path} holds a secret shorter than ${MIN_SECRET_LENGTH} characters`)
  return secret
}

/** The createHub options a config sets. */
export function hubSettings(c: HubConfig) {
  return {
    restartTimeoutMs: c.restartTimeoutMs,
    identifyTimeoutMs: c.identifyTimeoutMs,
    idleTimeoutMs: c.idleTimeoutMs,
    acceptTimeoutMs: c.acceptTimeoutMs,
    taskGraceMs: c.taskGraceMs,
    maxConnections: c.maxConnections,
    maxFramesPerS: c.maxFramesPerS,
    maxBodyBytes: c.maxBodyBytes,
  }
}
