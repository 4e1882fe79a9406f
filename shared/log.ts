/**
 * Structured logs: one JSON object per line on stdout, which is what `pm2 logs` shows.
 * Fields named like secrets are redacted, so a careless call cannot leak a token.
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

function redact(fields: LogFields): LogFields {
  const out: LogFields = {}
  for (const [key, value] of Object.entries(fields)) {
    out[key] = SECRET_KEY.test(key) ? '[redacted]' : value
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
    write(JSON.stringify({ time: new Date().toISOString(), level, component, msg, ...redact(fields) }))
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
