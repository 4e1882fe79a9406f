/**
 * The sidecar's settings: one table (SIDECAR_SETTINGS) that feeds the environment parser, the
 * defaults, the error messages and README's Sidecar table. A bad setting is a ConfigError
 * whose message names the variable; main.ts prints it and exits EXIT_CONFIG.
 */
import * as v from 'valibot'
import { isAbsolute, join, relative, resolve } from 'node:path'
import { AgentId } from '../shared/protocol.ts'
import { parseLabelList } from '../shared/labels.ts'
import { SECOND } from '../shared/time.ts'
import { ConfigError, rangeMessage, type Env, type Setting } from '../shared/settings.ts'

export const SIDECAR_SETTINGS = {
  agentId: {
    env: 'AGENTCOM_AGENT_ID', type: 'agent id', range: '1 to 64 characters of `A-Za-z0-9._-`', default: null,
    defaultText: 'required', meaning: 'the agent this sidecar runs',
  },
  token: {
    env: 'AGENTCOM_TOKEN', type: 'secret', default: null, defaultText: 'this or `AGENTCOM_TOKEN_FILE`',
    meaning: 'an agent token for that id (minted on the hub\'s machine); setting both this and `AGENTCOM_TOKEN_FILE` is a configuration error',
  },
  tokenFile: {
    env: 'AGENTCOM_TOKEN_FILE', type: 'path', default: null, defaultText: 'this or `AGENTCOM_TOKEN`',
    meaning: 'a file holding that token (surrounding whitespace ignored); keep it mode 0600',
  },
  hubUrl: {
    env: 'AGENTCOM_HUB_URL', type: 'url', range: '`ws://` or `wss://`; several, comma-separated', default: 'ws://127.0.0.1:8787/ws',
    meaning: 'the hub\'s WebSocket URL. Several (the hubs of a cluster): it connects to the first and moves on to the next whenever a connection fails or drops',
  },
  dataDir: { env: 'AGENTCOM_DATA_DIR', type: 'string', default: '.agentcom', meaning: 'holds `sidecar-<agent_id>.queue.json`' },
  taskCommand: {
    env: 'AGENTCOM_TASK_COMMAND', type: 'command', default: null,
    meaning: 'the command that runs a task; unset, every task fails with a message saying so',
  },
  taskDir: {
    env: 'AGENTCOM_TASK_DIR', type: 'path', default: null, defaultText: '`<data dir>/work/<agent_id>`',
    meaning: 'the working directory of task commands, created if missing; never the repository',
  },
  taskEnv: {
    env: 'AGENTCOM_TASK_ENV', type: 'names', range: 'comma-separated variable names', default: null,
    meaning: 'variables passed to tasks besides the allowlist (`PATH`, `HOME`, `LANG`, ...); credentials and pm2\'s variables never are',
  },
  taskUser: {
    env: 'AGENTCOM_TASK_USER', type: 'user', range: 'a user name or uid', default: null,
    meaning: 'tasks run as this user and its group; only when the sidecar runs as root (else a configuration error)',
  },
  processName: { env: 'PM2_PROCESS_NAME', type: 'string', default: null, defaultText: 'set by the ecosystem file', meaning: 'its pm2 name' },
  shutdownGraceMs: {
    env: 'AGENTCOM_SHUTDOWN_GRACE_MS', type: 'integer', min: 0, max: 3_600_000, default: 25 * SECOND,
    // Must stay below the ecosystem's kill_timeout (30 s).
    meaning: 'on SIGINT or SIGTERM, how long a running task may take to finish',
  },
  labels: {
    env: 'AGENTCOM_LABELS', type: 'names', range: 'comma-separated `name` or `name=value`, each part 1 to 64 of `A-Za-z0-9._-`; at most 32',
    default: null, meaning: 'this agent\'s labels: a task with `labels` runs only on an agent that has every one',
  },
  cancelGraceMs: {
    env: 'AGENTCOM_CANCEL_GRACE_MS', type: 'integer', min: 0, max: 3_600_000, default: 10 * SECOND,
    meaning: 'a cancelled task\'s process group gets SIGTERM, then SIGKILL this long after',
  },
  statsIntervalMs: {
    env: 'AGENTCOM_STATS_INTERVAL_MS', type: 'integer', min: 100, max: 20_000, default: 15 * SECOND,
    // The hub promises Agent.stats at most 30 s old: one late report must still fit.
    meaning: 'how often it sends the hub its memory, event-loop delay and uptime (and right after each identify)',
  },
} as const satisfies Record<string, Setting>

const S = SIDECAR_SETTINGS

export const SIDECAR_DEFAULTS = {
  hubUrl: S.hubUrl.default,
  dataDir: S.dataDir.default,
  shutdownGraceMs: S.shutdownGraceMs.default,
  cancelGraceMs: S.cancelGraceMs.default,
  statsIntervalMs: S.statsIntervalMs.default,
} as const

/** What the environment says, before any file is read (resolveSidecarConfig). */
export interface SidecarSettings {
  /** The first of hubUrls. */
  hubUrl: string
  /** Every hub to try, in order (AGENTCOM_HUB_URL, comma-separated). */
  hubUrls: string[]
  agentId: string
  /** Exactly one of token and tokenFile is set. */
  token: string | null
  tokenFile: string | null
  dataDir: string
  taskCommand: string | null
  /** Absolute. */
  taskDir: string
  /** Names from AGENTCOM_TASK_ENV, as listed (task-context.ts drops the forbidden ones). */
  taskEnv: string[]
  taskUser: string | null
  processName: string | null
  shutdownGraceMs: number
  /** AGENTCOM_LABELS, parsed (shared/labels.ts); absent: none. */
  labels?: string[]
  /** Absent: SIDECAR_DEFAULTS.cancelGraceMs. */
  cancelGraceMs?: number
  statsIntervalMs: number
}

/** A user task processes run as (AGENTCOM_TASK_USER, resolved). */
export interface TaskUser {
  name: string
  uid: number
  gid: number
}

/** The sidecar's configuration once its token file is read and its task user resolved (loadSidecarConfig). */
export interface SidecarConfig extends Omit<SidecarSettings, 'token' | 'tokenFile' | 'taskUser'> {
  token: string
  taskUser: TaskUser | null
}

const URL_MESSAGE = 'must be a ws:// or wss:// URL, or several separated by commas'

/**
 * An integer setting within its row's range. Digits only: Number() would read ' ' as 0 and
 * accept '1e3' or '0x10'. The value is never quoted back: a mistyped variable may hold the token.
 */
function integerSetting(row: Setting) {
  const message = rangeMessage(row).slice(row.env.length + 1)
  return v.optional(v.pipe(
    v.string(), v.regex(/^\d+$/, message), v.transform(Number), v.minValue(row.min!, message), v.maxValue(row.max!, message),
  ))
}

const EnvSchema = v.object({
  [S.hubUrl.env]: v.optional(v.pipe(v.string(), v.regex(/^wss?:\/\/[^\s,]+(\s*,\s*wss?:\/\/[^\s,]+)*$/, URL_MESSAGE))),
  [S.agentId.env]: v.pipe(v.string('is required'), v.check((id) => v.is(AgentId, id), 'must be 1 to 64 characters of A-Za-z0-9._-')),
  [S.token.env]: v.optional(v.string()),
  [S.tokenFile.env]: v.optional(v.string()),
  [S.taskDir.env]: v.optional(v.string()),
  [S.taskEnv.env]: v.optional(v.pipe(
    v.string(),
    v.transform((list) => list.split(',').map((name) => name.trim()).filter((name) => name !== '')),
    v.check((names) => names.every((name) => /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)), 'must be variable names separated by commas'),
  )),
  [S.taskUser.env]: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9._][A-Za-z0-9._-]{0,31}$/, 'must be a user name or uid'))),
  [S.dataDir.env]: v.optional(v.pipe(v.string(), v.minLength(1))),
  [S.taskCommand.env]: v.optional(v.string()),
  [S.processName.env]: v.optional(v.string()),
  [S.shutdownGraceMs.env]: integerSetting(S.shutdownGraceMs),
  [S.statsIntervalMs.env]: integerSetting(S.statsIntervalMs),
  [S.cancelGraceMs.env]: integerSetting(S.cancelGraceMs),
  [S.labels.env]: v.optional(v.pipe(v.string(), v.rawTransform(({ dataset, addIssue, NEVER }) => {
    try {
      return parseLabelList(dataset.value)
    } catch (err) {
      addIssue({ message: `must be ${(err as Error).message}` })
      return NEVER
    }
  }))),
})

/** The repository this sidecar runs from: tasks never run in it. */
const REPOSITORY = resolve(import.meta.dirname, '..')

export function resolveSidecarConfig(env: Env, cwd: string = process.cwd()): SidecarSettings {
  // Empty strings count as unset, as in most shells' `VAR= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''))
  const result = v.safeParse(EnvSchema, present)
  if (!result.success) {
    const issue = result.issues[0]
    const name = issue.path?.[0]?.key ?? 'environment'
    const message = issue.message.startsWith('Invalid key') || issue.message.startsWith('Invalid type') ? 'is required' : issue.message
    throw new ConfigError(`${String(name)} ${message}`)
  }
  const e = result.output
  const hubUrls = (e[S.hubUrl.env] ?? S.hubUrl.default).split(',').map((url) => url.trim())
  try {
    for (const url of hubUrls) new URL(url)
  } catch {
    throw new ConfigError(`${S.hubUrl.env} ${URL_MESSAGE}`)
  }
  const token = e[S.token.env] ?? null
  const tokenFile = e[S.tokenFile.env] ?? null
  if (token !== null && tokenFile !== null) {
    // Which one was meant cannot be told: one of them is stale, maybe a leftover export.
    throw new ConfigError(`set only one of ${S.token.env} and ${S.tokenFile.env}`)
  }
  if (token === null && tokenFile === null) throw new ConfigError(`${S.token.env} or ${S.tokenFile.env} is required`)
  const dataDir = e[S.dataDir.env] ?? S.dataDir.default
  const taskDir = resolve(cwd, e[S.taskDir.env] ?? join(dataDir, 'work', e[S.agentId.env]))
  const dataDirAbs = resolve(cwd, dataDir)
  if (isWithin(REPOSITORY, taskDir) || (isWithin(taskDir, REPOSITORY) && !isWithin(taskDir, dataDirAbs))) {
    throw new ConfigError(`${S.taskDir.env} must not be the repository, a folder above it, or a folder in it outside the data dir`)
  }
  return {
    hubUrl: hubUrls[0],
    hubUrls,
    agentId: e[S.agentId.env],
    token,
    tokenFile,
    dataDir,
    taskCommand: e[S.taskCommand.env] ?? null,
    taskDir,
    taskEnv: e[S.taskEnv.env] ?? [],
    taskUser: e[S.taskUser.env] ?? null,
    processName: e[S.processName.env] ?? null,
    shutdownGraceMs: e[S.shutdownGraceMs.env] ?? S.shutdownGraceMs.default,
    labels: e[S.labels.env] ?? [],
    cancelGraceMs: e[S.cancelGraceMs.env] ?? S.cancelGraceMs.default,
    statsIntervalMs: e[S.statsIntervalMs.env] ?? S.statsIntervalMs.default,
  }
}

/** True when `inner` is `outer` or inside it. */
function isWithin(inner: string, outer: string): boolean {
  const rel = relative(outer, inner)
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))
}

/** What loading the configuration needs from the machine; main.ts passes the real ones. */
export interface SidecarHost {
  readTextFile(path: string): Promise<string>
  /** The sidecar's uid (process.getuid()). */
  uid: number
  /** Resolves a user name or uid to its ids; null when the machine has no such user. */
  lookupUser(spec: string): Promise<TaskUser | null>
}

/**
 * The configuration with the token file read and the task user resolved. Every failure is a
 * ConfigError naming the variable and never quoting the token.
 */
export async function loadSidecarConfig(env: Env, host: SidecarHost): Promise<SidecarConfig> {
  const settings = resolveSidecarConfig(env)
  const { tokenFile, taskUser: userSpec, ...rest } = settings
  let token = settings.token
  if (tokenFile !== null) {
    try {
      token = (await host.readTextFile(tokenFile)).trim()
    } catch (err) {
      // Its value is never printed: a token pasted there by mistake would land in pm2's log.
      throw new ConfigError(`${S.tokenFile.env} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
    }
    if (token === '') throw new ConfigError(`${S.tokenFile.env} names an empty file`)
  }
  let taskUser: TaskUser | null = null
  if (userSpec !== null) {
    // Only root can switch users; anything else would fail at the first task instead.
    if (host.uid !== 0) throw new ConfigError(`${S.taskUser.env} needs the sidecar to run as root`)
    taskUser = await host.lookupUser(userSpec)
    if (!taskUser) throw new ConfigError(`${S.taskUser.env} names no user on this machine`)
  }
  return { ...rest, token: token!, taskUser }
}

/**
 * The hosts of the hub URLs a token would cross the network to in clear text: `ws://` to a
 * host that is not loopback. main.ts warns about each.
 */
export function plainTextHubHosts(hubUrl: string): string[] {
  const hosts: string[] = []
  for (const url of hubUrl.split(',')) {
    let parsed: URL
    try {
      parsed = new URL(url.trim())
    } catch {
      continue
    }
    const host = parsed.hostname.replace(/^\[|\]$/g, '')
    const loopback = host === 'localhost' || host === '::1' || /^127\./.test(host)
    if (parsed.protocol === 'ws:' && !loopback) hosts.push(host)
  }
  return hosts
}
