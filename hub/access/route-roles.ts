/**
 * THE table of who may do what: the role each route needs, keyed as the Hono app registers
 * the route (method and full path pattern). The access gate (gate.ts) reads it on every
 * request, the whoami route hands the dashboard the routes a role may use, and the tests walk
 * it (test/unit/route-roles.test.ts fails for a route under /api/admin, /metrics or
 * /api/enroll that is registered but not here, so none can be forgotten).
 *
 * A route that changes something also names its audit `action`, and where its `target` comes
 * from: the first path parameter, else the body field `targetField`.
 */
import type { AccessRole } from './roles.ts'

export interface RouteRole {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  /** The full path pattern as registered, e.g. `/api/admin/agents/:agent_id/restart`. */
  path: string
  role: AccessRole
  /** The audit record's `action`; every route that is not a GET has one. */
  action?: string
  /** The body field naming the target, for a route without a path parameter. */
  targetField?: string
  /**
   * The route checks a credential of its own (`POST /api/enroll` and its join token): the gate
   * does not guard it and `role` is not used; it is here for its audit action, and so the table
   * still holds every route (it is audited through gate.ts's auditedRoute).
   */
  ownCredential?: true
}

export const ROUTE_ROLES: readonly RouteRole[] = [
  // Reading: every GET under /api/admin, the events stream included.
  { method: 'GET', path: '/api/admin/whoami', role: 'viewer' },
  { method: 'GET', path: '/api/admin/agents', role: 'viewer' },
  { method: 'GET', path: '/api/admin/agents/:agent_id', role: 'viewer' },
  { method: 'GET', path: '/api/admin/events', role: 'viewer' },
  { method: 'GET', path: '/api/admin/healing', role: 'viewer' },
  { method: 'GET', path: '/api/admin/tasks', role: 'viewer' },
  { method: 'GET', path: '/api/admin/tasks/:task_id', role: 'viewer' },
  { method: 'GET', path: '/api/admin/tasks/:task_id/output', role: 'viewer' },
  { method: 'GET', path: '/api/admin/rollouts/:rollout_id', role: 'viewer' },
  { method: 'GET', path: '/api/admin/audit', role: 'viewer' },
  { method: 'GET', path: '/api/admin/metrics/history', role: 'viewer' },
  { method: 'GET', path: '/metrics', role: 'viewer' },
  // Steering the fleet.
  { method: 'POST', path: '/api/admin/agents/:agent_id/restart', role: 'operator', action: 'agent.restart' },
  { method: 'POST', path: '/api/admin/agents/:agent_id/drain', role: 'operator', action: 'agent.drain' },
  { method: 'POST', path: '/api/admin/agents/:agent_id/resume', role: 'operator', action: 'agent.resume' },
  { method: 'POST', path: '/api/admin/rollouts', role: 'operator', action: 'rollout.create' },
  { method: 'POST', path: '/api/admin/rollouts/:rollout_id/cancel', role: 'operator', action: 'rollout.cancel' },
  { method: 'POST', path: '/api/admin/healing/pause', role: 'operator', action: 'healing.pause' },
  { method: 'POST', path: '/api/admin/healing/resume', role: 'operator', action: 'healing.resume' },
  { method: 'POST', path: '/api/admin/tasks/:task_id/cancel', role: 'operator', action: 'task.cancel' },
  // Running work and handing out or taking back credentials.
  { method: 'POST', path: '/api/admin/tasks', role: 'admin', action: 'task.create' },
  { method: 'POST', path: '/api/admin/tokens', role: 'admin', action: 'token.mint', targetField: 'name' },
  { method: 'POST', path: '/api/admin/tokens/revoke', role: 'admin', action: 'token.revoke', targetField: 'jti' },
  { method: 'POST', path: '/api/admin/agents/:agent_id/tokens', role: 'admin', action: 'agent_token.mint' },
  { method: 'POST', path: '/api/admin/agents/:agent_id/revoke', role: 'admin', action: 'agent.revoke' },
  { method: 'POST', path: '/api/admin/join-tokens', role: 'admin', action: 'join_token.mint' },
  // Enrollment: its own credential, the join token.
  { method: 'POST', path: '/api/enroll', role: 'admin', action: 'enroll', targetField: 'agent_id', ownCredential: true },
]

/** `METHOD path`, the key of a route in the table. */
export function routeKey(method: string, path: string): string {
  return `${method.toUpperCase()} ${path}`
}

const BY_KEY = new Map(ROUTE_ROLES.map((r) => [routeKey(r.method, r.path), r]))

/** The table's row for a registered route, or undefined. HEAD is served by the GET route. */
export function routeRole(method: string, path: string): RouteRole | undefined {
  return BY_KEY.get(routeKey(method === 'HEAD' ? 'GET' : method, path))
}

/** The routes `role` may use, as `METHOD path` keys (the dashboard's whoami answer). */
export function routesFor(isAllowed: (required: AccessRole) => boolean): string[] {
  return ROUTE_ROLES.filter((r) => !r.ownCredential && isAllowed(r.role)).map((r) => routeKey(r.method, r.path))
}
