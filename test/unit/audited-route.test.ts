/**
 * Auditing outside the gate and at its edges: `auditedRoute` records a request whose handler
 * named an actor (a valid join token at enrollment) with the status answered, and nothing for
 * one it did not; the gate records a change refused for its size (413) too. A record is stored
 * before its request acts: an audit store that cannot store it gets the request refused 503 with
 * nothing changed (the gate and enrollment alike); one that stores it but cannot complete it
 * leaves the handler's answer as it was, the record keeping status 102.
 */
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { createHub } from '../../hub/app.ts'
import { mintToken } from '../../hub/auth/auth.ts'
import { AuditTrail } from '../../hub/access/audit.ts'
import { createMemoryAuditStore } from '../../hub/access/audit-file.ts'
import type { AuditStore } from '../../hub/access/audit-store.ts'
import { auditedRoute, beginAudit } from '../../hub/access/gate.ts'
import { silentLogger } from '../../shared/log.ts'

const SECRET = 's'.repeat(40)
const noUpgrade = (() => async () => new Response(null, { status: 426 })) as never

describe('auditedRoute', () => {
  it('records a request whose handler named its actor, with the status answered, and not one it did not', async () => {
    const trail = new AuditTrail({ store: createMemoryAuditStore({ log: silentLogger }), publish: () => {}, clock: { now: () => 7 } })
    const app = new Hono().post('/api/enroll', auditedRoute({ audit: trail, peerOf: () => '198.51.100.2:1', log: silentLogger }, 'enroll', 'agent_id'), async (c) => {
      if (c.req.header('authorization') !== 'Bearer join-ok') return c.json({ error: 'unauthorized' }, 401)
      const unstored = await beginAudit(c, { join_jti: 'j-1' })
      return unstored ?? c.json({ agent_id: 'new-1' }, 201)
    })
    const body = JSON.stringify({ agent_id: 'new-1' })
    expect((await app.request('/api/enroll', { method: 'POST', body })).status).toBe(401)
    expect((await app.request('/api/enroll', { method: 'POST', body, headers: { authorization: 'Bearer join-ok' } })).status).toBe(201)
    expect((await trail.list({}, null, 10)).records).toEqual([{
      audit_id: '1', at: 7, actor: { join_jti: 'j-1' }, peer: '198.51.100.2:1', action: 'enroll', target: 'new-1', detail: { agent_id: 'new-1' }, status: 201,
    }])
  })
})

describe('the gate at its edges', () => {
  it('records a change refused for its size', async () => {
    const hub = createHub({ upgradeWebSocket: noUpgrade, secret: SECRET, log: silentLogger, maxBodyBytes: 1024 })
    try {
      const { token } = await mintToken(SECRET, { role: 'admin', access: 'admin', name: 'ops' })
      const res = await hub.app.request('/api/admin/tasks', { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ input: 'x'.repeat(4096) }) })
      expect(res.status).toBe(413)
      expect((await hub.audit.list({}, null, 10)).records).toEqual([expect.objectContaining({ action: 'task.create', status: 413, detail: {} })])
      expect(hub.tasks.size).toBe(0)
    } finally {
      hub.close()
    }
  })

  it('refuses 503 before acting when the record cannot be stored: nothing changed, refused or allowed', async () => {
    const failing: AuditStore = {
      append: async () => { throw new Error('disk full') },
      complete: async () => { throw new Error('disk full') },
      list: async () => ({ records: [], next_cursor: null }),
    }
    const hub = createHub({ upgradeWebSocket: noUpgrade, secret: SECRET, log: silentLogger, audit: failing })
    try {
      const viewer = (await mintToken(SECRET, { role: 'admin', access: 'viewer', name: 'v' })).token
      const admin = (await mintToken(SECRET, { role: 'admin', access: 'admin', name: 'ops' })).token
      const post = (path: string, token: string, body?: unknown) =>
        hub.app.request(path, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: body === undefined ? undefined : JSON.stringify(body) })
      const refused = await post('/api/admin/healing/pause', viewer)
      expect(refused.status).toBe(503)
      expect(await refused.json()).toEqual({ error: 'storage_unavailable' })
      const pause = await post('/api/admin/healing/pause', admin)
      expect(pause.status).toBe(503)
      expect(await pause.json()).toEqual({ error: 'storage_unavailable' })
      const healing = await hub.app.request('/api/admin/healing', { headers: { authorization: `Bearer ${admin}` } })
      expect(await healing.json()).toMatchObject({ paused: false })
      expect((await post('/api/admin/tasks', admin, { input: { n: 1 } })).status).toBe(503)
      expect(hub.tasks.size).toBe(0)
    } finally {
      hub.close()
    }
  })

  it('answers as the handler did when the record was stored but its completion was not, the record keeping status 102', async () => {
    const store = createMemoryAuditStore({ log: silentLogger })
    const completions = { fail: true }
    const flaky: AuditStore = {
      append: (e) => store.append(e),
      complete: async (r) => (completions.fail ? Promise.reject(new Error('disk full')) : store.complete(r)),
      list: (f, cursor, limit) => store.list(f, cursor, limit),
    }
    const hub = createHub({ upgradeWebSocket: noUpgrade, secret: SECRET, log: silentLogger, audit: flaky })
    try {
      const { token } = await mintToken(SECRET, { role: 'admin', access: 'admin', name: 'ops' })
      const post = () => hub.app.request('/api/admin/tasks', { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ input: { n: 1 } }) })
      expect((await post()).status).toBe(201)
      expect(hub.tasks.size).toBe(1)
      expect((await hub.audit.list({}, null, 10)).records).toEqual([expect.objectContaining({ action: 'task.create', status: 102, detail: {} })])
      completions.fail = false
      expect((await post()).status).toBe(201)
      expect((await hub.audit.list({}, null, 10)).records.map((r) => [r.status, r.detail])).toEqual([[201, { input: { n: 1 } }], [102, {}]])
    } finally {
      hub.close()
    }
  })
})
