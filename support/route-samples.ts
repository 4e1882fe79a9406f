/**
 * A request for each row of the route table (hub/access/route-roles.ts), for the tests that
 * walk the table: path parameters filled in, and a body where the route takes one. A row with
 * no sample here still gets a request (an empty body); the route's answer to it (400, 404, ...)
 * still shows whether the gate let it through.
 */
import { routeKey, type RouteRole } from '../hub/access/route-roles.ts'

export interface SampleRequest {
  method: string
  path: string
  body?: unknown
}

export interface SampleIds {
  agentId: string
  /** A jti of a token this hub mints (for POST /tokens/revoke). */
  jti: string
}

const PARAMS: Record<string, (ids: SampleIds) => string> = {
  ':agent_id': (ids) => ids.agentId,
  ':task_id': () => 'no-such-task',
  ':rollout_id': () => 'no-such-rollout',
}

const BODIES: Record<string, (ids: SampleIds) => unknown> = {
  'POST /api/admin/tasks': () => ({ input: { n: 1 } }),
  'POST /api/admin/tokens': () => ({ role: 'viewer', name: 'sample-viewer', ttl_s: 60 }),
  'POST /api/admin/tokens/revoke': (ids) => ({ jti: ids.jti }),
  'POST /api/admin/agents/:agent_id/restart': () => ({ reason: 'matrix' }),
  'POST /api/admin/rollouts': (ids) => ({ agent_ids: [ids.agentId] }),
}

export function sampleRequest(row: RouteRole, ids: SampleIds): SampleRequest {
  const path = row.path.split('/').map((part) => (part.startsWith(':') ? (PARAMS[part]?.(ids) ?? 'x') : part)).join('/')
  const body = BODIES[routeKey(row.method, row.path)]?.(ids) ?? (row.method === 'GET' ? undefined : {})
  return { method: row.method, path, body }
}
