/**
 * The sidecar's settings from the environment, validated at start. A bad setting is a
 * ConfigError whose message names the variable; main.ts prints it and exits 78.
 */
import * as v from 'valibot'
import { AgentId } from '../shared/protocol.ts'
import { SECOND } from '../shared/time.ts'

/** Exit code for a configuration error (sysexits EX_CONFIG); pm2 is told not to restart on it. */
export const EXIT_CONFIG = 78

export const SIDECAR_DEFAULTS = {
  hubUrl: 'ws://127.0.0.1:8787/ws',
  dataDir: '.agentcom',
  /** Must stay below the ecosystem's kill_timeout (30 s). */
  shutdownGraceMs: 25 * SECOND,
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

export class ConfigError extends Error {}

const GRACE_RANGE = 'must be an integer from 0 to 3600000'

const Env = v.object({
  AGENTCOM_HUB_URL: v.optional(v.pipe(v.string(), v.regex(/^wss?:\/\/[^\s]+$/, 'must be a ws:// or wss:// URL'))),
  AGENTCOM_AGENT_ID: v.pipe(v.string('is required'), v.check((id) => v.is(AgentId, id), 'must be 1 to 64 characters of A-Za-z0-9._-')),
  AGENTCOM_TOKEN: v.pipe(v.string('is required'), v.minLength(1, 'is required')),
  AGENTCOM_DATA_DIR: v.optional(v.pipe(v.string(), v.minLength(1))),
  AGENTCOM_TASK_COMMAND: v.optional(v.string()),
  PM2_PROCESS_NAME: v.optional(v.string()),
  AGENTCOM_SHUTDOWN_GRACE_MS: v.optional(v.pipe(
    // Digits only: Number() would read ' ' as 0 and accept '1e3' or '0x10'.
    v.string(), v.regex(/^\d+$/, GRACE_RANGE), v.transform(Number), v.maxValue(3_600_000, GRACE_RANGE),
  )),
})

export function resolveSidecarConfig(env: Record<string, string | undefined>): SidecarConfig {
  // Empty strings count as unset, as in most shells' `VAR= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''))
  const result = v.safeParse(Env, present)
  if (!result.success) {
    const issue = result.issues[0]
    const name = issue.path?.[0]?.key ?? 'environment'
    const message = issue.message.startsWith('Invalid key') || issue.message.startsWith('Invalid type') ? 'is required' : issue.message
    throw new ConfigError(`${String(name)} ${message}`)
  }
  const e = result.output
  try {
    new URL(e.AGENTCOM_HUB_URL ?? SIDECAR_DEFAULTS.hubUrl)
  } catch {
    throw new ConfigError('AGENTCOM_HUB_URL must be a ws:// or wss:// URL')
  }
  return {
    hubUrl: e.AGENTCOM_HUB_URL ?? SIDECAR_DEFAULTS.hubUrl,
    agentId: e.AGENTCOM_AGENT_ID,
    token: e.AGENTCOM_TOKEN,
    dataDir: e.AGENTCOM_DATA_DIR ?? SIDECAR_DEFAULTS.dataDir,
    taskCommand: e.AGENTCOM_TASK_COMMAND ?? null,
    processName: e.PM2_PROCESS_NAME ?? null,
    shutdownGraceMs: e.AGENTCOM_SHUTDOWN_GRACE_MS ?? SIDECAR_DEFAULTS.shutdownGraceMs,
  }
}
