/**
 * `GET /api/admin/agents?status=&limit=&cursor=`: the query's rules and one page of the fleet.
 * Pages walk the fleet by agent id; the cursor is the last agent id of the page before, so a
 * page stays right while agents come and go (a new agent shows up on the page its id sorts to).
 */
import * as v from 'valibot'
import { AgentId } from '../../shared/protocol.ts'
import type { AgentRecord, AgentStatus } from './fleet.ts'

export const MAX_PAGE = 10_000

export const AgentsQuery = v.pipe(
  v.object({
    status: v.optional(v.picklist(['idle', 'working', 'restarting', 'offline'] as const satisfies readonly AgentStatus[])),
    /** Only agents whose sidecar last identified with this package version. */
    version: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(64))),
    limit: v.optional(v.pipe(
      v.string(),
      v.regex(/^[1-9]\d{0,5}$/, `limit is a whole number from 1 to ${MAX_PAGE}`),
      v.transform(Number),
      v.maxValue(MAX_PAGE, `limit is a whole number from 1 to ${MAX_PAGE}`),
    )),
    cursor: v.optional(v.pipe(v.string(), v.check((c) => v.is(AgentId, c), 'cursor is not one this hub gave out'))),
  }),
  v.check((q) => q.cursor === undefined || q.limit !== undefined, 'cursor needs limit'),
)

export type AgentsQuery = v.InferOutput<typeof AgentsQuery>

export interface AgentPage<T = AgentRecord> {
  agents: T[]
  /** Only when paging (limit given): the cursor of the next page, null on the last one. */
  next_cursor?: string | null
}

/** One page of `sorted` (ordered by agent id) matching the query. */
export function pageAgents<T extends { agent_id: string; version?: string | null }>(
  sorted: readonly T[], statusOf: (rec: T) => AgentStatus, query: AgentsQuery,
): AgentPage<T> {
  const matches = (rec: T) => (query.status === undefined || statusOf(rec) === query.status)
    && (query.version === undefined || rec.version === query.version)
  if (query.limit === undefined) return { agents: query.status === undefined && query.version === undefined ? [...sorted] : sorted.filter(matches) }
  const agents: T[] = []
  for (let i = query.cursor === undefined ? 0 : firstAfter(sorted, query.cursor); i < sorted.length; i++) {
    if (!matches(sorted[i])) continue
    // One more match past a full page: there is a next page, and it starts after the last shown.
    if (agents.length === query.limit) return { agents, next_cursor: agents[agents.length - 1].agent_id }
    agents.push(sorted[i])
  }
  return { agents, next_cursor: null }
}

/** The index of the first agent whose id sorts after `id` (binary search). */
function firstAfter(sorted: readonly { agent_id: string }[], id: string): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (sorted[mid].agent_id <= id) lo = mid + 1
    else hi = mid
  }
  return lo
}
