/**
 * Structured logs: one JSON object per line on stdout, which is what `pm2 logs` shows, or one
 * readable line per event for a person at a terminal (AGENTCOM_LOG_FORMAT). Fields named like
 * secrets are redacted in both forms, so a careless call cannot leak a token, and every string
 * is cut at MAX_LOGGED_CHARS, so a peer's long field cannot grow the log with it.
 */
import { ConfigError } from './settings.ts'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export type LogFormat = 'json' | 'text'

export interface LogSettings {
  level: LogLevel
  format: LogFormat
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']

/**
 * AGENTCOM_LOG_LEVEL (default info) and AGENTCOM_LOG_FORMAT (default text when the output is a
 * terminal, else json). Any other value is a configuration error.
 */
export function resolveLogSettings(env: Record<string, string | undefined>, isTerminal: boolean): LogSettings {
  const level = env.AGENTCOM_LOG_LEVEL || 'info'
  const format = env.AGENTCOM_LOG_FORMAT || (isTerminal ? 'text' : 'json')
  if (!(LEVELS as readonly string[]).includes(level)) throw new ConfigError('AGENTCOM_LOG_LEVEL must be debug, info, warn or error')
  if (format !== 'json' && format !== 'text') throw new ConfigError('AGENTCOM_LOG_FORMAT must be json or text')
  return { level: level as LogLevel, format }
}

/** One event as a line of text: time, level, component, message, then the fields as key=value. */
export function textLine(entry: { time: string; level: LogLevel; component: string; msg: string }, fields: LogFields): string {
  const parts = [entry.time, entry.level.toUpperCase().padEnd(5), `${entry.component}:`, entry.msg]
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue
    const text = typeof value === 'string' && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)
    parts.push(`${key}=${text}`)
  }
  return parts.join(' ')
}
export type LogFields = Record<string, unknown>

export interface Logger {
  debug(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  error(msg: string, fields?: LogFields): void
}

const SECRET_KEY = /token|secret|authorization|password|^env$|pm2_env/i

/** The longest string a log line carries in one field; the rest is cut and counted. */
export const MAX_LOGGED_CHARS = 1024

/** `text`, or its first MAX_LOGGED_CHARS characters and how many were cut. */
export function truncateForLog(text: string): string {
  if (text.length <= MAX_LOGGED_CHARS) return text
  return `${text.slice(0, MAX_LOGGED_CHARS)}...(${text.length - MAX_LOGGED_CHARS} more chars)`
}

/**
 * Whether a field name is secret-shaped, remembered per name: a hub logs the same few field
 * names over and over (a line per identify in a reconnect storm), and the pattern was a
 * measurable part of each line. Bounded: names past the limit are tested, not remembered.
 */
const secretKeys = new Map<string, boolean>()
function isSecretKey(key: string): boolean {
  let secret = secretKeys.get(key)
  if (secret === undefined) {
    secret = SECRET_KEY.test(key)
    if (secretKeys.size < 1024) secretKeys.set(key, secret)
  }
  return secret
}

function redactedValue(key: string, value: unknown): unknown {
  return isSecretKey(key) ? '[redacted]' : typeof value === 'string' ? truncateForLog(value) : value
}

function redact(fields: LogFields): LogFields {
  const out: LogFields = {}
  for (const key in fields) {
    if (Object.hasOwn(fields, key)) out[key] = redactedValue(key, fields[key])
  }
  return out
}

/**
 * The time of a line, in ISO form, made once per millisecond: a hub in a reconnect storm logs
 * several identifies in the same millisecond, and toISOString was a measurable part of each line.
 */
let stampMs = Number.NaN
let stamp = ''
function isoNow(): string {
  const ms = Date.now()
  if (ms !== stampMs) {
    stampMs = ms
    stamp = new Date(ms).toISOString()
  }
  return stamp
}

/** Builds a logger that writes lines through `write` (default: console.log), JSON unless told `text`. */
export function createLogger(
  component: string,
  write: (line: string) => void = (line) => console.log(line),
  minLevel: LogLevel = 'info',
  format: LogFormat = 'json',
): Logger {
  const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 }
  const emit = (level: LogLevel) => (msg: string, fields: LogFields = {}) => {
    if (order[level] < order[minLevel]) return
    const time = isoNow()
    const short = truncateForLog(msg)
    if (format === 'text') return write(textLine({ time, level, component, msg: short }, redact(fields)))
    // One object, in the order time, level, component, msg, then the fields (a field of the
    // same name as one of the four takes its place, as a spread did).
    const entry: LogFields = { time, level, component, msg: short }
    for (const key in fields) {
      if (Object.hasOwn(fields, key)) entry[key] = redactedValue(key, fields[key])
    }
    write(JSON.stringify(entry))
  }
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') }
}

/** A logger that drops everything, for tests that do not read logs. */
export const silentLogger: Logger = createLogger('silent', () => {})

/** Turns anything thrown into an Error, as graphile-worker's coerceError does. */
export function coerceError(err: unknown): Error {
  if (err instanceof Error) return err
  return new Error(typeof err === 'string' ? err : JSON.stringify(err))
}
