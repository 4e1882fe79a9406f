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

export function connectDatabase(url: string, opts: ConnectOptions = {}): Sql {
  return postgres(url, {
    max: opts.max ?? 10,
    connect_timeout: opts.connectTimeoutS ?? 10,
    // NOTICEs (e.g. "already exists, skipping") are not errors; postgres.js would print them.
    onnotice: () => {},
    connection: { application_name: opts.applicationName ?? 'agentcom' },
  })
}
