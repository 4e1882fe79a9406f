/**
 * `"all": true` in cluster mode: the agents that get one task each, read in the creating
 * transaction: connected (their hub's lease holds), undrained, not quarantined, carrying every
 * wanted label. The same rule as the single hub's (hub/tasks/memory-task-admin.ts).
 */
import type { Queryable } from './connect.ts'

export async function fanOutTargets(sql: Queryable, labels: readonly string[]): Promise<string[]> {
  const rows = await sql<{ agent_id: string }[]>`
    SELECT a.agent_id FROM agents a JOIN hubs h ON h.hub_id = a.hub_id
    WHERE a.connected AND h.lease_until > now() AND NOT a.drained AND NOT a.quarantined
      AND a.labels @> ${[...labels]}::text[]
    ORDER BY a.agent_id COLLATE "C"`
  return rows.map((r) => r.agent_id)
}
