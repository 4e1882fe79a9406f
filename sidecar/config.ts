/**
 * The sidecar's settings: one table (SIDECAR_SETTINGS) that feeds the environment parser, the
 * defaults, the error messages and README's Sidecar table. A bad setting is a ConfigError
 * whose message names the variable; main.ts prints it and exits EXIT_CONFIG.
 */
import * as v from 'valibot'
import { AgentId } from '../shared/protocol.ts'
import { SECOND } from '../shared/time.ts'
import { ConfigError, rangeMessage, type Env, type Setting } from '../shared/settings.ts'

export const SIDECAR_SETTINGS = {
  agentId: {
    env: 'AGENTCOM_AGENT_ID', type: 'agent id', range: '1 to 64 characters of `A-Za-z0-9._-`', default: null,
    defaultText: 'required', meaning: 'the agent this sidecar runs',
  },
  token: { env: 'AGENTCOM_TOKEN', type: 'secret', default: null, defaultText: 'required', meaning: 'an agent token for that id' },
  hubUrl: { env: 'AGENTCOM_HUB_URL', type: 'url', range: '`ws://` or `wss://`', default: 'ws://127.0.0.1:8787/ws', meaning: 'the hub\'s WebSocket URL' },
  dataDir: { env: 'AGENTCOM_DATA_DIR', type: 'string', default: '.agentcom', meaning: 'holds `sidecar-<agent_id>.queue.json`' },
  taskCommand: {
    env: 'AGENTCOM_TASK_COMMAND', type: 'command', default: null,
    meaning: 'the command that runs a task; unset, every task fails with a message saying so',
  },
  processName: { env: 'PM2_PROCESS_NAME', type: 'string', default: null, defaultText: 'set by the ecosystem file', meaning: 'its pm2 name' },
  shutdownGraceMs: {
    env: 'AGENTCOM_SHUTDOWN_GRACE_MS', type: 'integer', min: 0, max: 3_600_000, default: 25 * SECOND,
    // Must stay below the ecosystem's kill_timeout (30 s).
    meaning: 'on SIGINT or SIGTERM, how long a running task may take to finish',
  },
} as const satisfies Record<string, Setting>

const S = SIDECAR_SETTINGS

export const SIDECAR_DEFAULTS = {
  hubUrl: S.hubUrl.default,
  dataDir: S.dataDir.default,
  shutdownGraceMs: S.shutdownGraceMs.default,
} as const

export interface SidecarConfig {
  hubUrl: string
  agentId: string
  token: string
  dataDir: string
  taskCommand: string | null
  processName: string | null
  shutdownGraceMs: number
}

const URL_MESSAGE = 'must be a ws:// or wss:// URL'
const GRACE_RANGE = rangeMessage(S.shutdownGraceMs).slice(S.shutdownGraceMs.env.length + 1)

const EnvSchema = v.object({
  [S.hubUrl.env]: v.optional(v.pipe(v.string(), v.regex(/^wss?:\/\/[^\s]+$/, URL_MESSAGE))),
  [S.agentId.env]: v.pipe(v.string('is required'), v.check((id) => v.is(AgentId, id), 'must be 1 to 64 characters of A-Za-z0-9._-')),
  [S.token.env]: v.pipe(v.string('is required'), v.minLength(1, 'is required')),
  [S.dataDir.env]: v.optional(v.pipe(v.string(), v.minLength(1))),
  [S.taskCommand.env]: v.optional(v.string()),
  [S.processName.env]: v.optional(v.string()),
  [S.shutdownGraceMs.env]: v.optional(v.pipe(
    // Digits only: Number() would read ' ' as 0 and accept '1e3' or '0x10'. The value is never
    // quoted back: a mistyped variable may hold the token.
    v.string(), v.regex(/^\d+$/, GRACE_RANGE), v.transform(Number), v.maxValue(S.shutdownGraceMs.max, GRACE_RANGE),
  )),
})

export function resolveSidecarConfig(env: Env): SidecarConfig {
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
  const hubUrl = e[S.hubUrl.env] ?? S.hubUrl.default
  try {
    new URL(hubUrl)
  } catch {
    throw new ConfigError(`${S.hubUrl.env} ${URL_MESSAGE}`)
  }
  return {
    hubUrl,
    agentId: e[S.agentId.env],
    token: e[S.token.env],
    dataDir: e[S.dataDir.env] ?? S.dataDir.default,
    taskCommand: e[S.taskCommand.env] ?? null,
    processName: e[S.processName.env] ?? null,
    shutdownGraceMs: e[S.shutdownGraceMs.env] ?? S.shutdownGraceMs.default,
  }
}
