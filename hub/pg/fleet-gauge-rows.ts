/** What GET /metrics reads from the cluster's tables: the fleet's gauges, the same on every hub. */
import type { Queryable } from './connect.ts'

/** Tasks of the whole fleet waiting for an agent (the partial index tasks_queue covers them). */
export async function countQueuedTasks(sql: Queryable): Promise<number> {
  const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM tasks WHERE status = 'queued'`
  return row.n
}
