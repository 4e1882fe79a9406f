/**
 * The cluster's bus: PostgreSQL LISTEN/NOTIFY on one channel, the target hub in the payload.
 * A notification is a nudge that carries ids only; the row it points at is the truth. Write
 * the row first and publish in the same transaction (`via`), and the notification goes out at
 * commit, so a receiver always finds the row. A hub that was not listening for a while (lost
 * connection) misses notifications: `onListen` runs after every (re)LISTEN so it can catch
 * up by reading rows.
 */
import type { Queryable, Sql } from './connect.ts'

export const BUS_CHANNEL = 'agentcom_bus'
/** PostgreSQL refuses a NOTIFY payload of 8000 bytes or more. */
export const MAX_PAYLOAD_BYTES = 7999
/** The target that reaches every hub, the sender included. */
export const ALL_HUBS = '*'

/** Small scalar fields only: ids, kinds, counts. */
export type BusFields = Record<string, string | number | boolean | null>
export type BusMessage = BusFields & { kind: string }
export type BusHandler = (message: BusMessage, from: string) => void

export interface PgBus {
  readonly hubId: string
  /**
   * Sends `message` to hub `to` (or ALL_HUBS). With `via` (a transaction), it is sent when that
   * transaction commits, and not at all if it rolls back. Throws, sending nothing, when the
   * payload is too large or uses a reserved field (`to`, `from`).
   */
  publish(to: string, message: BusMessage, via?: Queryable): Promise<void>
  /** Calls `handler` for each message to this hub or to all; returns the unsubscribe. */
  subscribe(handler: BusHandler): () => void
  /** Stops listening; the pool `sql` stays open (its owner ends it). */
  close(): Promise<void>
}

export interface PgBusOptions {
  hubId: string
  /** Runs after LISTEN is in place, first and after every reconnect: catch up from rows. */
  onListen?: () => void
  /** A notification that is not a bus message (another program on the channel). */
  onInvalid?: (payload: string) => void
  /**
   * A handler threw; the other handlers still ran. Default: thrown again outside the
   * listener, so a bug fails loudly instead of silently dropping commands.
   */
  onHandlerError?: (err: unknown) => void
}

/** Starts listening; resolves once LISTEN is in place, so nothing published after is missed. */
export async function createPgBus(sql: Sql, opts: PgBusOptions): Promise<PgBus> {
  const handlers = new Set<BusHandler>()
  const encoder = new TextEncoder()

  const deliver = (payload: string) => {
    const parsed = parseEnvelope(payload)
    if (!parsed) return opts.onInvalid?.(payload)
    const { to, from, message } = parsed
    if (to !== opts.hubId && to !== ALL_HUBS) return
    for (const handler of handlers) {
      try {
        handler(message, from)
      } catch (err) {
        if (opts.onHandlerError) opts.onHandlerError(err)
        else queueMicrotask(() => { throw err })
      }
    }
  }
  // postgres.js keeps LISTEN on a connection of its own and LISTENs again after reconnecting,
  // calling onlisten each time.
  const listening = await sql.listen(BUS_CHANNEL, deliver, () => opts.onListen?.())

  return {
    hubId: opts.hubId,
    async publish(to, message, via = sql) {
      if ('to' in message || 'from' in message) throw new Error('bus message fields "to" and "from" are reserved')
      const payload = JSON.stringify({ ...message, to, from: opts.hubId })
      const bytes = encoder.encode(payload).length
      if (bytes > MAX_PAYLOAD_BYTES) {
        throw new Error(`bus message of ${bytes} bytes exceeds ${MAX_PAYLOAD_BYTES}: send ids and read the rest from the tables`)
      }
      await via`SELECT pg_notify(${BUS_CHANNEL}, ${payload})`
    },
    subscribe(handler) {
      handlers.add(handler)
      return () => handlers.delete(handler)
    },
    async close() {
      handlers.clear()
      await listening.unlisten()
    },
  }
}

function parseEnvelope(payload: string): { to: string; from: string; message: BusMessage } | null {
  let data: unknown
  try {
    data = JSON.parse(payload)
  } catch {
    return null
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return null
  const { to, from, ...message } = data as Record<string, unknown>
  if (typeof to !== 'string' || typeof from !== 'string' || typeof message.kind !== 'string') return null
  for (const value of Object.values(message)) {
    if (value !== null && typeof value === 'object') return null
  }
  return { to, from, message: message as BusMessage }
}
