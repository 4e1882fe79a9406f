/**
 * The hub's settings from the environment, shared by the Node and Deno entries, read by the
 * table in settings.ts. Bad settings throw a ConfigError here, at start, naming the variable.
 */
import { SECOND } from '../../shared/time.ts'
import { ConfigError, readInteger, type Env } from '../../shared/settings.ts'
import { HUB_SETTINGS as S } from './settings.ts'
import { assertSecret } from '../auth/secret.ts'
import { HEALING_ROWS, type HealingSettings } from '../healing/healing-settings.ts'

export interface HubConfig {
  port: number
  host: string
  /** From AGENTCOM_SECRET; null means "use the data dir's hub-secret file". */
  secret: string | null
  dataDir: string
  restartTimeoutMs: number
  /** Advanced settings, for tests and unusual fleets; undefined means createHub's default. */
  identifyTimeoutMs?: number
  idleTimeoutMs?: number
  acceptTimeoutMs?: number
  taskGraceMs?: number
  /** Limits that protect the hub; see HubOptions in app.ts for each one's edge. */
  maxConnections?: number
  maxFramesPerS?: number
  maxBodyBytes?: number
  maxPending?: number
  maxEventClients?: number
  maxQueuedTasks?: number
  offlineTtlMs?: number
  /** AGENTCOM_HEAL_*: only the ones set; the rest are the table's defaults. */
  healing: Partial<HealingSettings>
  /** Where healing alerts are POSTed; null sends none. */
  alertWebhookUrl: string | null
  /** AGENTCOM_ALERT_WEBHOOK_SECRET: alert deliveries are signed with it; null: unsigned. */
  alertWebhookSecret: string | null
  /** AGENTCOM_ALERT_OFFLINE_S in ms; undefined means createHub's default. */
  alertOfflineMs?: number
  /** Cluster mode (AGENTCOM_DATABASE_URL); null: a single hub on the file store. */
  cluster: ClusterConfig | null
  /** This hub's id (AGENTCOM_HUB_ID), random per process when unset. */
  hubId: string
}

export interface ClusterConfig {
  databaseUrl: string
  leaseMs: number
}

/** The hub's task table inside the data dir. */
export const TASKS_FILE = 'hub-tasks.json'
/** A hub exits this long after SIGTERM or SIGINT at the latest, whatever its stop waits on (the contract says 10 s). */
export const SHUTDOWN_GRACE_MS = 8000

export function resolveHubConfig(env: Env): HubConfig {
  const secret = env[S.secret.env] || null
  if (secret !== null) assertSecret(secret)
  return {
    port: readInteger(env, S.port) ?? S.port.default,
    host: env[S.host.env] || S.host.default,
    secret,
    dataDir: env[S.dataDir.env] || S.dataDir.default,
    restartTimeoutMs: (readInteger(env, S.restartTimeoutS) ?? S.restartTimeoutS.default) * SECOND,
    identifyTimeoutMs: readInteger(env, S.identifyTimeoutMs),
    idleTimeoutMs: readInteger(env, S.idleTimeoutMs),
    acceptTimeoutMs: readInteger(env, S.acceptTimeoutMs),
    taskGraceMs: readInteger(env, S.taskGraceMs),
    maxConnections: readInteger(env, S.maxConnections),
    maxFramesPerS: readInteger(env, S.maxFramesPerS),
    maxBodyBytes: readInteger(env, S.maxBodyBytes),
    maxPending: readInteger(env, S.maxPending),
    maxEventClients: readInteger(env, S.maxEventClients),
    maxQueuedTasks: readInteger(env, S.maxQueuedTasks),
    offlineTtlMs: seconds(readInteger(env, S.offlineTtlS)),
    healing: Object.fromEntries(Object.entries(HEALING_ROWS).map(([key, row]) => [key, readInteger(env, row)])),
    alertWebhookUrl: readWebhookUrl(env),
    alertWebhookSecret: readWebhookSecret(env),
    alertOfflineMs: seconds(readInteger(env, S.alertOfflineS)),
    cluster: readCluster(env),
    hubId: readHubId(env),
  }
}

function readCluster(env: Env): ClusterConfig | null {
  const url = env[S.databaseUrl.env]
  const leaseS = readInteger(env, S.hubLeaseS) ?? S.hubLeaseS.default
  if (!url) return null
  // Never quoted back: the URL holds the database password.
  if (!/^postgres(ql)?:\/\/\S+$/.test(url)) throw new ConfigError(`${S.databaseUrl.env} must be a postgres:// URL`)
  return { databaseUrl: url, leaseMs: leaseS * SECOND }
}

function readHubId(env: Env): string {
  const id = env[S.hubId.env]
  if (!id) return `hub-${crypto.randomUUID().slice(0, 8)}`
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) throw new ConfigError(`${S.hubId.env} must be 1 to 64 characters of A-Za-z0-9._-`)
  return id
}

/** The URL is never quoted back: a chat webhook's URL is its secret. */
function readWebhookUrl(env: Env): string | null {
  const raw = env[S.alertWebhookUrl.env]
  if (raw === undefined || raw === '') return null
  let protocol = ''
  try {
    protocol = new URL(raw).protocol
  } catch {
    // reported below
  }
  if (protocol !== 'http:' && protocol !== 'https:') throw new ConfigError(`${S.alertWebhookUrl.env} must be an http:// or https:// URL`)
  return raw
}

/** Never quoted back. */
function readWebhookSecret(env: Env): string | null {
  const raw = env[S.alertWebhookSecret.env]
  if (raw === undefined || raw === '') return null
  if (raw.length > 1024) throw new ConfigError(`${S.alertWebhookSecret.env} must be 1 to 1024 characters`)
  return raw
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
    maxPending: c.maxPending,
    maxEventClients: c.maxEventClients,
    maxQueuedTasks: c.maxQueuedTasks,
    offlineTtlMs: c.offlineTtlMs,
    healing: c.healing,
    alertWebhookUrl: c.alertWebhookUrl ?? undefined,
    alertWebhookSecret: c.alertWebhookSecret ?? undefined,
    alertOfflineMs: c.alertOfflineMs,
  }
}

function seconds(s: number | undefined): number | undefined {
  return s === undefined ? undefined : s * SECOND
}
