/**
 * postgres.js's one unawaited promise, recognised by the runtime entries (hub/node.ts,
 * hub/deno.ts). No import: a single hub loads this without the PostgreSQL client.
 */

/**
 * Whether `reason` (an unhandled rejection) is postgres.js's failed read of the array types.
 * postgres.js 3.4.9 reads them on every new connection in a promise nobody awaits
 * (`fetchArrayTypes` in src/connection.js), so a connection reset during that query is an
 * unhandled rejection, which ends the process. The query it waited for fails on its own and is
 * retried as any other; only this rejection is harmless. `fetch_types: false` would avoid it
 * but breaks `sql.reserve()` on a new connection (it never resolves), which every transaction
 * here uses. The runtime entries ignore exactly this rejection and nothing else.
 */
export function isArrayTypesFetchFailure(reason: unknown): boolean {
  const query = (reason as { query?: unknown } | null)?.query
  return typeof query === 'string' && query.includes('pg_catalog.pg_type') && query.includes('typarray')
}
