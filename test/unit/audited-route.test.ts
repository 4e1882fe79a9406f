/**
 * Auditing outside the gate and at its edges: `auditedRoute` records a request whose handler
 * named an actor (a valid join token at enrollment) with the status answered, and nothing for
 * one it did not; the gate records a change refused for its size (413) too; an audit store that
 * cannot store turns the answer into 503.
 */
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { createTestHub } from '../../support/in-process-hub.ts'
import { mintToken } from '../../hub/auth/auth.ts'
import { AuditTrail } from '../../hub/access/audit.ts'
import { createMemoryAuditStore } from '../../hub/access/audit-file.ts'
import type { AuditStore } from '../../hub/access/audit-store.ts'
import { auditedRoute, setAuditActor } from '../../hub/access/gate.ts'
import { silentLogger } from '../../shared/log.ts'

const SECRET = 's'.repeat(40)

describe('auditedRoute', () => {
  it('records a request whose handler named its actor, with the status answered, and not one it did not', async () => {
    const trail = new AuditTrail({ store: createMemoryAuditStore({ log: silentLogger }), publish: () => {}, clock: { now: () => 7 } })
    const app = new Hono().post('/api/enroll', auditedRoute({ audit: trail, peerOf: () => '198.51.100.2:1', log: silentLogger }, 'enroll', 'agent_id'), async (c) => {
      if (c.req.header('authorization') !== 'Bearer join-ok') return c.json({ error: 'unauthorized' }, 401)
      setAuditActor(c, { join_jti: 'j-1' })
      return c.json({ agent_id: 'new-1' }, 201)
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
    const hub = createTestHub({ secret: SECRET, log: silentLogger, maxBodyBytes: 1024 })
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

  it('answers 503 when the record cannot be stored', async () => {
    const failing: AuditStore = { append: async () => { throw new Error('disk full') }, list: async () => ({ records: [], next_cursor: null }) }
    const hub = createTestHub({ secret: SECRET, log: silentLogger, audit: failing })
    try {
      const { token } = await mintToken(SECRET, { role: 'admin', access: 'viewer', name: 'v' })
      const res = await hub.app.request('/api/admin/healing/pause', { method: 'POST', headers: { authorization: `Bearer ${token}` } })
      expect(res.status).toBe(503)
      expect(await res.json()).toEqual({ error: 'storage_unavailable' })
    } finally {
      hub.close()
    }
  })
})
