/**
 * Structured logs: one JSON object per line on stdout, which is what `pm2 logs` shows.
 * Fields named like secrets are redacted, so a careless call cannot leak a token, and every
 * string is cut at MAX_LOGGED_CHARS, so a peer's long field cannot grow the log with it.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
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

function redact(fields: LogFields): LogFields {
  const out: LogFields = {}
  for (const [key, value] of Object.entries(fields)) {
    out[key] = SECRET_KEY.test(key) ? '[redacted]' : typeof value === 'string' ? truncateForLog(value) : value
  }
  return out
}

/** Builds a logger that writes JSON lines through `write` (default: console.log). */
export function createLogger(
  component: string,
  write: (line: string) => void = (line) => console.log(line),
  minLevel: LogLevel = 'info',
): Logger {
  const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 }
  const emit = (level: LogLevel) => (msg: string, fields: LogFields = {}) => {
    if (order[level] < order[minLevel]) return
    write(JSON.stringify({ time: new Date().toISOString(), level, component, msg: truncateForLog(msg), ...redact(fields) }))
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
