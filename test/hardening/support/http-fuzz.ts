/**
 * Malformed HTTP requests, each with the answer the contract owes it: bad JSON, JSON of the
 * wrong shape, wrong content types, oversized bodies (with a length and chunked), odd paths and
 * odd methods, with and without the admin token.
 */
import type { Rng } from './random.ts'

export interface FuzzRequest {
  category: string
  method: string
  path: string
  headers: Record<string, string>
  body?: string | Buffer
  /** Send the body chunked, without a Content-Length. */
  chunked?: boolean
  /** Allowed [status, error] answers. */
  expect: [number, string][]
}

const CONTENT_TYPES = [
  undefined, 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x',
  'application/xml', 'application/json; charset=utf-16', 'image/png', '*/*', 'application/json, text/plain',
]

const POST_ROUTES = ['/api/admin/tasks', '/api/admin/agents/victim/restart', '/api/admin/rollouts']

const VALID_BODIES: Record<string, string[]> = {
  '/api/admin/tasks': ['{"input":{"n":1}}', '{"input":[1,2,3],"timeout_ms":1000}', '{"input":"text","agent_id":"nobody"}'],
  '/api/admin/agents/victim/restart': ['{"reason":"fuzz"}', '{"mode":"force","deadline_s":5}'],
  '/api/admin/rollouts': ['{"agent_ids":["victim"],"max_unavailable":1}'],
}

/** Bodies that parse as JSON but do not fit the route. (`[]`, which fits by accident, has its own test.) */
const WRONG_SHAPES: Record<string, string[]> = {
  '/api/admin/tasks': [
    '{}', 'null', '[]', '"input"', '42', 'true', '{"input":1,"timeout_ms":-1}', '{"input":1,"timeout_ms":1.5}',
    '{"input":1,"timeout_ms":"10"}', '{"input":1,"agent_id":"has space"}', '{"input":1,"agent_id":""}',
    `{"input":"${'x'.repeat(64 * 1024)}"}`, '{"inputs":1}', '{"input":1,"timeout_ms":86400001}',
  ],
  '/api/admin/agents/victim/restart': [
    'null', '42', '"reason"', '{"reason":""}', `{"reason":"${'r'.repeat(201)}"}`, '{"reason":42}', '{"mode":"gentle"}',
    '{"deadline_s":-1}', '{"deadline_s":"5"}', '{"deadline_s":86401}',
  ],
  '/api/admin/rollouts': [
    'null', '{"agent_ids":[]}', '{"agent_ids":"victim"}', '{"agent_ids":["a","a"]}', '{"agent_ids":["bad id"]}',
    '{"max_unavailable":0}', '{"max_unavailable":1.5}', '{"mode":"now"}', '{"reason":""}',
  ],
}

function badJson(rng: Rng, route: string): string {
  const valid = rng.pick(VALID_BODIES[route])
  switch (rng.int(0, 8)) {
    case 0: return valid.slice(0, rng.int(1, valid.length - 1))
    case 1: return `${valid} trailing`
    case 2: return valid.replace(/"/g, "'")
    case 3: return `{"input":${'['.repeat(rng.int(10, 50_000))}`
    case 4: return '{"input": NaN}'
    case 5: return `/* comment */ ${valid}`
    case 6: return '{"input":1,}'
    // No JSON text ends with '{' or starts with '~': these can never be valid by chance.
    case 7: return `${rng.text(rng.int(1, 200))}{`
    default: return `~${rng.text(rng.int(0, 500))}`
  }
}

function contentType(rng: Rng): Record<string, string> {
  const type = rng.pick(CONTENT_TYPES)
  return type === undefined ? {} : { 'content-type': type }
}

export function fuzzRequest(rng: Rng, auth: Record<string, string>, maxBodyBytes: number): FuzzRequest {
  const r = rng.next()
  const authed = rng.chance(0.8)
  const who = authed ? auth : {}
  const noAuth: [number, string][] = [[401, 'unauthorized']]
  if (r < 0.3) {
    const route = rng.pick(POST_ROUTES)
    return {
      category: 'bad JSON', method: 'POST', path: route, headers: { ...who, ...contentType(rng) }, body: badJson(rng, route),
      chunked: rng.chance(0.2), expect: authed ? [[400, 'invalid_request']] : noAuth,
    }
  }
  if (r < 0.5) {
    const route = rng.pick(POST_ROUTES)
    return {
      category: 'wrong shape', method: 'POST', path: route, headers: { ...who, ...contentType(rng) }, body: rng.pick(WRONG_SHAPES[route]),
      expect: authed ? [[400, 'invalid_request']] : noAuth,
    }
  }
  if (r < 0.58) {
    // The body is read as JSON whatever its Content-Type (as curl -d sends it): a valid one is served.
    const route = rng.pick(['/api/admin/tasks', '/api/admin/agents/victim/restart'])
    return {
      category: 'valid JSON under a wrong content type', method: 'POST', path: route,
      headers: { ...who, ...contentType(rng) }, body: rng.pick(VALID_BODIES[route]),
      expect: !authed ? noAuth : route === '/api/admin/tasks' ? [[201, '']] : [[404, 'agent_not_connected']],
    }
  }
  if (r < 0.63) {
    const size = maxBodyBytes + rng.pick([1, 2, 1000, rng.int(1, 256 * 1024)])
    return {
      category: 'oversized body', method: rng.pick(['POST', 'PUT', 'PATCH']), path: rng.pick([...POST_ROUTES, '/api/admin/agents', '/api/admin/nothing']),
      headers: { ...who, ...contentType(rng) }, body: Buffer.alloc(size, rng.pick(['{', 'x', ' ', '\u0000'])), chunked: rng.chance(0.5),
      // Under /api/admin the token comes first (a 413 with a valid token is audited, access/gate.ts):
      // without one, 401 before the body is read; with one, the size is checked before anything else.
      expect: authed ? [[413, 'payload_too_large']] : [[401, 'unauthorized'], [413, 'payload_too_large']],
    }
  }
  if (r < 0.82) return oddPath(rng, who, authed)
  return oddMethod(rng, who, authed)
}

function oddPath(rng: Rng, who: Record<string, string>, authed: boolean): FuzzRequest {
  const unauth = (e: [number, string][]): [number, string][] => (authed ? e : [[401, 'unauthorized']])
  const cases: [string, [number, string][]][] = [
    ['/api/admin/agents/has%20space', unauth([[400, 'invalid_request']])],
    [`/api/admin/agents/${'a'.repeat(65)}`, unauth([[400, 'invalid_request']])],
    ['/api/admin/agents/%ZZ', unauth([[400, 'invalid_request']])],
    ['/api/admin/agents/..%2F..%2Fetc%2Fpasswd', unauth([[400, 'invalid_request']])],
    ['/api/admin/agents/%00', unauth([[400, 'invalid_request']])],
    ['/api/admin/agents/%E2%82%AC', unauth([[400, 'invalid_request']])],
    [`/api/admin/tasks/${'t'.repeat(129)}`, unauth([[400, 'invalid_request']])],
    ['/api/admin/tasks/%F0%9F%92%A9', unauth([[404, 'task_not_found']])],
    ['/api/admin/rollouts/..%2F', unauth([[404, 'rollout_not_found']])],
    ['/api/admin/agents/nobody', unauth([[404, 'agent_not_found']])],
    ['/api/admin/nothing', unauth([[404, 'not_found']])],
    ['/api/admin/agents/victim/restart/extra', unauth([[404, 'not_found']])],
    ['/api/admin/agents/', unauth([[404, 'not_found']])],
    [`/api/admin/agents?${'q'.repeat(rng.int(1, 4000))}=${'v'.repeat(rng.int(0, 2000))}`, unauth([[200, '']])],
    ['/API/ADMIN/AGENTS', [[404, 'not_found']]],
    ['/api/other', [[404, 'not_found']]],
    // Node's adapter resolves the dot segment (WHATWG URL) and serves /api/admin/agents, auth and all; Deno does not.
    ['/%2e%2e/api/admin/agents', [[404, 'not_found'], ...unauth([[200, '']])]],
    ['/health/', [[404, 'not_found']]],
    [`/x-${rng.text(rng.int(1, 50)).replace(/[^A-Za-z0-9]/g, 'z')}`, [[404, 'not_found']]],
    ['/ws', [[426, 'upgrade_required']]],
  ]
  const [path, expect] = rng.pick(cases)
  return { category: 'odd path', method: 'GET', path, headers: who, expect }
}

function oddMethod(rng: Rng, who: Record<string, string>, authed: boolean): FuzzRequest {
  const method = rng.pick(['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'PURGE', 'POST', 'GET'])
  const getOnly = ['/api/admin/agents', '/api/admin/agents/victim', '/api/admin/tasks/t-1', '/api/admin/rollouts/r-1']
  const postOnly = ['/api/admin/tasks', '/api/admin/agents/victim/restart', '/api/admin/agents/victim/drain', '/api/admin/rollouts']
  let path = rng.pick([...getOnly, ...postOnly, '/health'])
  // Only methods the route does not serve.
  // GET /api/admin/tasks lists the tasks (v3): of the POST routes, not one to GET.
  if (method === 'GET' && !postOnly.includes(path)) path = rng.pick(postOnly.filter((p) => p !== '/api/admin/tasks'))
  if (method === 'GET' && path === '/api/admin/tasks') path = '/api/admin/rollouts'
  if (method === 'POST' && !getOnly.includes(path) && path !== '/health') path = rng.pick(getOnly)
  const expect: [number, string][] = path === '/health' || authed ? [[404, 'not_found']] : [[401, 'unauthorized']]
  return { category: 'odd method', method, path, headers: who, expect }
}
