/**
 * The admin API's Agent, read from the cluster's rows, so every hub answers alike: presence
 * (connected only while the agent's hub holds its lease), the task in flight, the latest
 * restart. One statement, for one agent or all; the view is made from the row by views.ts's
 * agentView, as one hub's is from its record.
 */
import { agentView } from '../api/views.ts'
import type { Queryable } from './connect.ts'
import type { RestartRow } from './restarts.ts'

export interface AgentViewRow {
  agent_id: string
  hub_id: string | null
  connected: boolean
  connected_at: number | null
  last_seen: number | null
  pm2_info: any
  version: string | null
  host: any
  supervised: boolean
  drained: boolean
  quarantined: boolean
  labels: string[]
  stats: any
  task_id: string | null
  /** The latest restart, as a JSON object (null if none). */
  restart: (Omit<RestartRow, 'agent_id' | 'hub_id'>) | null
}

/** The Agent view of a row: connected while its hub's lease holds; hub_id '' when no hub ever held it. */
export const agentRowView = (row: AgentViewRow) => agentView(row, row.connected, row.hub_id ?? '')

export interface AgentViewQuery {
  /** One agent only. */
  agentId?: string
  /** Only these agents. */
  agentIds?: readonly string[]
  /** Only agents of this status (the rule of agents/agent-record.ts's agentStatus, in SQL so that pages are cut after the filter). */
  status?: string
  /** Only agents that last identified with this package version. */
  version?: string
  /** Only agents whose id sorts after this one (the paging cursor), by bytes as in JavaScript. */
  after?: string
  limit?: number
  /** Only agents carrying every one of these labels. */
  labels?: readonly string[]
}

function query(sql: Queryable, q: AgentViewQuery) {
  const where = [
    q.agentId === undefined ? null : sql`agent_id = ${q.agentId}`,
    q.agentIds === undefined ? null : sql`agent_id = ANY(${[...q.agentIds]}::text[])`,
    q.status === undefined ? null : sql`status = ${q.status}`,
    q.version === undefined ? null : sql`version = ${q.version}`,
    !q.labels?.length ? null : sql`labels @> ${[...q.labels]}::text[]`,
  ].filter((w) => w !== null)
  const filter = where.reduce((acc, w) => sql`${acc} AND ${w}`, sql`true`)
  return sql<AgentViewRow[]>`
    SELECT * FROM (
      SELECT v.*, CASE WHEN v.restart->>'state' = 'restarting' THEN 'restarting' WHEN NOT v.connected THEN 'offline'
        WHEN v.task_id IS NOT NULL THEN 'working' ELSE 'idle' END AS status
      FROM (
        SELECT a.agent_id, a.hub_id, (a.connected AND coalesce(h.lease_until > now(), false)) AS connected,
          epoch_ms(a.connected_at) AS connected_at, epoch_ms(a.last_seen) AS last_seen, a.pm2_info, a.version, a.host, a.supervised, a.drained,
          a.quarantined, a.labels, a.stats, t.task_id, r.restart
        FROM agents a
        LEFT JOIN hubs h ON h.hub_id = a.hub_id
        LEFT JOIN LATERAL (SELECT task_id FROM tasks
          WHERE tasks.agent_id = a.agent_id AND status IN ('assigned', 'working') ORDER BY seq LIMIT 1) t ON true
        LEFT JOIN LATERAL (SELECT json_build_object('restart_id', restart_id, 'reason', reason, 'mode', mode,
            'deadline_s', deadline_s, 'state', state, 'requested_at', epoch_ms(requested_at), 'updated_at', epoch_ms(updated_at),
            'error', error, 'rollout_id', rollout_id) AS restart
          FROM restarts WHERE restarts.agent_id = a.agent_id ORDER BY requested_at DESC LIMIT 1) r ON true
        ${q.after === undefined ? sql`` : sql`WHERE a.agent_id COLLATE "C" > ${q.after}`}
      ) v
    ) s
    WHERE ${filter}
    ORDER BY agent_id COLLATE "C"
    ${q.limit === undefined ? sql`` : sql`LIMIT ${q.limit}`}`
}

export function listAgentViews(sql: Queryable, q: Omit<AgentViewQuery, 'agentId'> = {}): Promise<AgentViewRow[]> {
  return query(sql, q)
}

/** The views of `agentIds` (those that exist), in one statement: the events stream's agents of one write. */
export function getAgentViews(sql: Queryable, agentIds: readonly string[]): Promise<AgentViewRow[]> {
  return query(sql, { agentIds })
}

export async function getAgentView(sql: Queryable, agentId: string): Promise<AgentViewRow | null> {
  const [row] = await query(sql, { agentId })
  return row ?? null
}

/** Sets the drained flag (resuming lifts a quarantine too); returns the hub holding the agent (null if none) or undefined if unknown. */
export async function setDrained(sql: Queryable, agentId: string, drained: boolean): Promise<{ hub_id: string | null; live: boolean } | undefined> {
  const [row] = await sql<{ hub_id: string | null; live: boolean }[]>`
    UPDATE agents a SET drained = ${drained}, quarantined = a.quarantined AND ${drained}, updated_at = now() FROM agents a2 LEFT JOIN hubs h ON h.hub_id = a2.hub_id
    WHERE a.agent_id = ${agentId} AND a2.agent_id = a.agent_id
    RETURNING a.hub_id, (a.connected AND coalesce(h.lease_until > now(), false)) AS live`
  return row
}
