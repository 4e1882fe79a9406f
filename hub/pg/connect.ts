/**
 * The one place a hub opens its PostgreSQL connections (postgres.js, which runs on Node and
 * on Deno alike). Everything else in hub/pg takes the `Sql` it returns, so tests can hand
 * in a client of their own.
 */
import postgres from 'postgres'

export type Sql = postgres.Sql
/** Either the pool or a transaction: the operations that need no transaction of their own take this. */
export type Queryable = postgres.ISql

export interface ConnectOptions {
  /** Pool size; default 10 (postgres.js's). LISTEN takes one more connection of its own. */
  max?: number
  /** Shown in `pg_stat_activity`, so an operator can tell hubs apart; default `agentcom`. */
  applicationName?: string
  /** Seconds to wait for a connection before a query fails; default 10. */
  connectTimeoutS?: number
}

/** Longest wait, in seconds, before a new connection is tried after failed ones. */
const MAX_RECONNECT_DELAY_S = 1

export function connectDatabase(url: string, opts: ConnectOptions = {}): Sql {
  return postgres(url, {
    max: opts.max ?? 10,
    connect_timeout: opts.connectTimeoutS ?? 10,
    // A query waits for the pool's reconnect delay before its connection is even tried:
    // postgres.js's own grows to 20 s, so a write hung that long while the database was away
    // and recovery lagged as long after it came back. Connections are tried on demand only
    // (a query needs one), so a short cap does not spin; jittered, so hubs do not march in step.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, MAX_RECONNECT_DELAY_S) * (0.5 + Math.random() / 2),
    // NOTICEs (e.g. "already exists, skipping") are not errors; postgres.js would print them.
    onnotice: () => {},
    connection: { application_name: opts.applicationName ?? 'agentcom' },
  })
}

/**
 * Runs `work` as one transaction, on a connection reserved for it before BEGIN is sent:
 * committed when `work` resolves, rolled back when it throws. Use this, never `sql.begin`:
 * postgres.js 3.4.9 reserves sql.begin's connection only if the write of BEGIN reports room
 * for more (porsager/postgres#1189, #823), so a BEGIN that fills a connection's pipeline (100
 * queries behind it) or meets socket backpressure (frequent on Deno) runs unreserved. That
 * BEGIN failed with UNSAFE_TRANSACTION (POST /api/admin/tasks answered 500), and its
 * connection went back to the pool inside the open transaction, where later queries of
 * anyone ran uncommitted.
 */
export async function inTransaction<T>(sql: Sql, work: (tx: Queryable) => Promise<T>): Promise<T> {
  const tx = await sql.reserve()
  // A connection that failed is the pool's again (postgres.js un-reserves it as it closes), and
  // the server rolled its transaction back: nothing more is sent on it.
  let usable = true
  try {
    await tx`BEGIN`
    const result = await work(tx)
    await tx`COMMIT`
    return result
  } catch (err) {
    if (isConnectionError(err)) usable = false
    else {
      await tx`ROLLBACK`.catch((rollbackErr) => {
        usable = !isConnectionError(rollbackErr)
      })
    }
    throw err
  } finally {
    if (usable) tx.release()
  }
}

/**
 * Whether `err` says the database server itself is down (refused the connection, or said it
 * is shutting down or starting up): then it is down for every hub alike, unlike a timeout or a
 * reset, which may be this hub cut off alone.
 */
export function isDatabaseDown(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return code === 'ECONNREFUSED' || code === '57P01' || code === '57P02' || code === '57P03'
}

/** A PostgreSQL data exception (SQLSTATE class 22): the value itself is refused, every time. */
export function isDataError(err: unknown): err is { code: string } {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('22')
}

/** Whether `err` is postgres.js's word for a connection that closed, which any outage may cause. */
export function isConnectionClosed(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return code === 'CONNECTION_CLOSED' || code === 'CONNECTION_ENDED' || code === 'CONNECTION_DESTROYED'
}

/** Whether `err` says the database could not be reached (refused, reset, timed out, shutting down). */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code !== 'string') return false
  return code.startsWith('08') || code.startsWith('57P') || code.startsWith('53') ||
    /^(CONNECTION_|CONNECT_TIMEOUT|E[A-Z]+$)/.test(code)
}
