/**
 * The route table (hub/access/route-roles.ts) against the app: every route registered under
 * /api/admin, /metrics or /api/enroll is in the table and every row is registered; then the
 * whole matrix, generated from the table: each route under each role answers as the table
 * says (403 `forbidden` with `required_role` below it, the route's own answer from it up), a
 * refused change leaves no trace but its audit record, and every change, allowed or refused,
 * leaves exactly one record with the status answered.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { sign } from 'hono/jwt'
import { createTestHub, type OneHub } from '../../support/in-process-hub.ts'
import { mintToken } from '../../hub/auth/auth.ts'
import { ROUTE_ROLES, routeKey } from '../../hub/access/route-roles.ts'
import { ACCESS_ROLES, type AccessRole } from '../../hub/access/roles.ts'
import type { HubMessage } from '../../shared/protocol.ts'
import { createLogger } from '../../shared/log.ts'
import { sampleRequest } from '../../support/route-samples.ts'
import { DASHBOARD_ACTIONS } from '../../hub/dashboard/browser/actions.ts'

const SECRET = 's'.repeat(40)
const T0 = Date.UTC(2026, 0, 1, 12)
/** Where the table must hold every route: the admin API, the metrics and enrollment. */
const RANK: Record<AccessRole, number> = { viewer: 0, operator: 1, admin: 2 }
const GUARDED = /^\/(api\/admin(\/|$)|metrics$|api\/enroll$)/

let hub: OneHub
let logs: string[]
let sent: HubMessage[]
const tokens = {} as Record<AccessRole, { token: string; jti: string }>
const clock = { at: T0, now: () => clock.at }

beforeEach(async () => {
  clock.at = T0
  logs = []
  hub = createTestHub({ secret: SECRET, clock, log: createLogger('hub', (l) => logs.push(l)) })
  for (const role of ACCESS_ROLES) tokens[role] = await mintToken(SECRET, { role: 'admin', access: role, name: `${role}-1` }, T0)
  sent = []
  hub.fleet.identify('w-1', { send: (m) => sent.push(m), close: () => {} }, {
    supervised: true, instance_id: 'i-1',
    pm2_info: { name: 'agentcom-w-1', pm_id: 1, pid: 1000, status: 'online', uptime_ms: 5, restart_count: 0, memory_bytes: 1 },
  })
  hub.tasks.identified(hub.fleet.get('w-1')!, null)
})
afterEach(() => hub.close())

async function call(role: AccessRole, req: { method: string; path: string; body?: unknown }) {
  const controller = new AbortController()
  const res = await hub.app.request(req.path, {
    method: req.method, signal: controller.signal,
    headers: { authorization: `Bearer ${tokens[role].token}` },
    body: req.body === undefined ? undefined : JSON.stringify(req.body),
  })
  // The events stream never ends on its own: its status is all this needs. /metrics answers text.
  const type = res.headers.get('content-type') ?? ''
  const body = type.startsWith('text/event-stream') ? (controller.abort(), null) : type.startsWith('application/json') ? await res.json() : await res.text()
  return { status: res.status, body }
}

/** What a change could touch: the agent's view and frames, tasks, rollouts, healing, revocations. */
async function state() {
  const admin = (path: string) => call('admin', { method: 'GET', path }).then((r) => r.body)
  return {
    agents: await admin('/api/admin/agents'),
    healing: await admin('/api/admin/healing'),
    tasks: hub.tasks.size,
    frames: sent.length,
    revokedBefore: hub.revocations.revokedBefore('w-1'),
    revokedJti: hub.revocations.isRevoked({ role: 'admin', access: 'viewer', name: 'x', jti: tokens.viewer.jti, issuedAtMs: T0, expiresAtMs: T0 + 1e9 }),
  }
}

describe('the route table', () => {
  it('holds every guarded route the app registers, and registers every route it holds', () => {
    const registered = new Set(hub.app.routes
      .filter((r) => r.method !== 'ALL' && !r.path.endsWith('*') && GUARDED.test(r.path))
      .map((r) => routeKey(r.method, r.path)))
    const table = new Set(ROUTE_ROLES.map((r) => routeKey(r.method, r.path)))
    expect([...registered].filter((k) => !table.has(k))).toEqual([])
    expect([...table].filter((k) => !registered.has(k))).toEqual([])
    expect(table.size).toBe(ROUTE_ROLES.length)
  })

  it('names an audit action for every route that is not a GET, and a role by the contract for every GET', () => {
    for (const row of ROUTE_ROLES) {
      if (row.method === 'GET') expect(row.role, routeKey(row.method, row.path)).toBe('viewer')
      else expect(row.action, routeKey(row.method, row.path)).toMatch(/^[a-z_]+(\.[a-z_]+)?$/)
    }
  })

  it("gives operator the contract's fleet steering and nothing else; admin every other change", () => {
    // CONTRACT.md, Access: operator = restart, drain, resume, rollouts and their cancel, task
    // cancel, healing pause and resume.
    const operator = [
      'POST /api/admin/tasks/:task_id/cancel',
      'POST /api/admin/agents/:agent_id/restart', 'POST /api/admin/agents/:agent_id/drain', 'POST /api/admin/agents/:agent_id/resume',
      'POST /api/admin/rollouts', 'POST /api/admin/rollouts/:rollout_id/cancel', 'POST /api/admin/healing/pause', 'POST /api/admin/healing/resume',
    ]
    for (const row of ROUTE_ROLES.filter((r) => r.method !== 'GET' && !r.ownCredential)) {
      const key = routeKey(row.method, row.path)
      expect(row.role, key).toBe(operator.includes(key) ? 'operator' : 'admin')
    }
  })

  it("the dashboard's actions are routes of the table", () => {
    const table = new Set(ROUTE_ROLES.map((r) => routeKey(r.method, r.path)))
    for (const key of Object.values(DASHBOARD_ACTIONS)) expect(table.has(key), key).toBe(true)
  })

  it('fails closed: a route missing from the table is for admin only, and says so in the log', async () => {
    hub.app.post('/api/admin/not-in-table', (c) => c.json({ ran: true }, 200))
    expect(await call('operator', { method: 'POST', path: '/api/admin/not-in-table', body: {} }))
      .toEqual({ status: 403, body: { error: 'forbidden', required_role: 'admin' } })
    expect(logs.join('\n')).toContain('route missing from the access table')
  })
})

describe('the matrix: every route under every role', () => {
  for (const row of ROUTE_ROLES.filter((r) => !r.ownCredential)) {
    for (const role of ACCESS_ROLES) {
      // Written out here, not the gate's mayUse: the test must not share the code it checks.
      const allowed = RANK[role] >= RANK[row.role]
      const changes = row.method !== 'GET'
      it(`${row.method} ${row.path} as ${role}: ${allowed ? 'its own answer' : '403'}${changes ? ', one audit record' : ''}`, async () => {
        const req = sampleRequest(row, { agentId: 'w-1', jti: tokens.viewer.jti })
        const before = await state()
        const auditBefore = (await hub.audit.list({}, null, 1000)).records.length
        const res = await call(role, req)
        const records = (await hub.audit.list({}, null, 1000)).records
        if (!allowed) {
          expect(res).toEqual({ status: 403, body: { error: 'forbidden', required_role: row.role } })
          expect(await state()).toEqual(before)
        } else {
          expect(res.status).not.toBe(403)
          expect(res.status).not.toBe(401)
        }
        if (!changes) {
          expect(records.length).toBe(auditBefore)
          return
        }
        expect(records.length).toBe(auditBefore + 1)
        expect(records[0]).toMatchObject({
          actor: { name: `${role}-1`, role, jti: tokens[role].jti }, action: row.action, status: res.status,
          at: T0, audit_id: expect.any(String),
        })
        expect(JSON.stringify(records[0])).not.toMatch(/eyJ/)
      })
    }
  }
})

describe('the gate', () => {
  it('answers 401 to a missing, foreign or agent token, audits none, and logs at a bounded rate', async () => {
    const agent = await mintToken(SECRET, { role: 'agent', sub: 'w-1' }, T0)
    const other = await mintToken('o'.repeat(40), { role: 'admin' }, T0)
    for (let i = 0; i < 30; i++) {
      for (const header of [undefined, `Bearer ${agent.token}`, `Bearer ${other.token}`]) {
        const res = await hub.app.request('/api/admin/agents/w-1/drain', { method: 'POST', headers: header ? { authorization: header } : {} })
        expect(res.status).toBe(401)
        expect(await res.json()).toEqual({ error: 'unauthorized' })
      }
    }
    expect((await hub.audit.list({}, null, 10)).records).toEqual([])
    expect(hub.fleet.get('w-1')!.drained).toBe(false)
    expect(logs.filter((l) => l.includes('"admin request refused"')).length).toBe(10)
    clock.at += 10_000
    await hub.app.request('/api/admin/agents', {})
    expect(logs.some((l) => l.includes('not logged one by one') && l.includes('"refused":80'))).toBe(true)
    expect(logs.join('\n')).not.toContain(agent.token)
  })

  it('takes a v2 admin token (role admin, no sub) as admin named "admin"', async () => {
    // Signed as the v2 hub signed them: role admin, no sub.
    const jti = `${'a'.repeat(32)}.${T0 / 1000 + 3600}`
    const v2 = await sign({ iss: 'agentcom', aud: 'agentcom:admin', jti, iat: T0 / 1000, iat_ms: T0, exp: T0 / 1000 + 3600, role: 'admin' }, SECRET, 'HS256')
    const res = await hub.app.request('/api/admin/whoami', { headers: { authorization: `Bearer ${v2}` } })
    expect(await res.json()).toMatchObject({ name: 'admin', role: 'admin', jti })
    const drained = await hub.app.request('/api/admin/agents/w-1/drain', { method: 'POST', headers: { authorization: `Bearer ${v2}` } })
    expect(drained.status).toBe(200)
  })
})
