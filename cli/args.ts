/**
 * What every verb shares: one argument parser (node:util's parseArgs) whose mistakes are usage
 * errors (exit 2, with that verb's usage), and the output streams.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { createLogger, resolveLogSettings, type Logger } from '../shared/log.ts'

/** A mistake in how the command was called: exit 2 and the verb's usage. */
export class UsageError extends Error {}

/** sysexits-free: what `agentcom` exits with on a usage error (CONTRACT.md, "Operator CLI"). */
export const EXIT_USAGE = 2

/** One verb of `agentcom`: its usage lines and what it does. */
export interface VerbModule {
  usage: string
  /** The exit code; undefined when the verb keeps the process running (hub, sidecar). */
  run(args: string[], io: CliIo): Promise<number | undefined>
}

export interface CliIo {
  env: NodeJS.ProcessEnv
  out(text: string): void
  err(text: string): void
  /** Whether `out` is a terminal (log lines are then text by default). Default false. */
  isTerminal?: boolean
}

export const processIo: CliIo = {
  env: process.env,
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  isTerminal: process.stdout.isTTY === true,
}

/**
 * What a verb reports of what it did (not its answer, which goes to `out` as is): log lines on
 * `out` under AGENTCOM_LOG_LEVEL and AGENTCOM_LOG_FORMAT, component `agentcom`.
 */
export function verbLogger(io: CliIo): Logger {
  const settings = resolveLogSettings(io.env, io.isTerminal === true)
  return createLogger('agentcom', (line) => io.out(line), settings.level, settings.format)
}

type Options = NonNullable<ParseArgsConfig['options']>

/** parseArgs, strict, positionals allowed; its errors become UsageErrors. */
export function parseVerbArgs<O extends Options>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

const UNIT_S = { s: 1, m: 60, h: 3600, d: 86_400 } as const

/** `90s`, `15m`, `12h`, `30d` in seconds; null for anything else or more than `maxS`. */
export function parseDuration(text: string, maxS: number): number | null {
  const match = /^([1-9]\d{0,8})([smhd])$/.exec(text)
  if (!match) return null
  const seconds = Number(match[1]) * UNIT_S[match[2] as keyof typeof UNIT_S]
  return seconds <= maxS ? seconds : null
}

/** `a,b=c` as a list, empty parts dropped. */
export function parseList(text: string | undefined): string[] {
  return (text ?? '').split(',').map((part) => part.trim()).filter((part) => part !== '')
}
