/**
 * The audit trail in cluster mode: the store suite on the `audit` table, its bound, every
 * changing route of the route table leaving its record (allowed as admin, refused as viewer)
 * readable from every hub with `event: audit` on every hub's stream, and a hub process killed
 * right after answering still showing the record when started again on the same database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgAuditStore } from '../../hub/access/audit-pg.ts'
import { ROUTE_ROLES } from '../../hub/access/route-roles.ts'
import { mintToken } from '../../hub/auth/auth.ts'
import type { Sql } from '../../hub/pg/connect.ts'
import { migrate } from '../../hub/pg/migrate.ts'
import { describeAuditStore, entry } from '../../support/audit-store-conformance.ts'
import { CLUSTER_SECRET, agentOn, startClusterHub, useTwoClusterHubs, type TestHub } from '../../support/cluster-hubs.ts'
import { startHubProcess } from '../../support/hub-process.ts'
import { sampleRequest } from '../../support/route-samples.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'
import type { TestSocket } from '../../support/ws-client.ts'
import { waitFor } from '../../support/wait.ts'
import { followEvents } from '../../support/event-follower.ts'

let db: TestDatabase
let sql: Sql

beforeAll(async () => {
  db = await createTestDatabase()
  sql = db.connect()
  await migrate(sql)
})
afterAll(() => db?.drop())

describeAuditStore('postgresql', {
  async fresh() {
    await sql`TRUNCATE audit`
    return { store: createPgAuditStore(sql), reopen: async () => createPgAuditStore(sql) }
  },
})

describe('audit table', () => {
  it('records a request whose fields hold U+0000 (as U+FFFD), answering what the route answered (400: it cannot be stored)', async () => {
    const hub = await startClusterHub(db.url, 'au-nul')
    try {
      const res = await hub.api('POST', '/agents/nobody/restart', { reason: 'a\u0000b' })
      expect(res).toMatchObject({ status: 400, body: { error: 'invalid_request' } })
      const listed = await hub.api('GET', '/audit?action=agent.restart')
      expect(listed.body.records[0]).toMatchObject({ status: 400, target: 'nobody', detail: { reason: 'a\uFFFDb' } })
    } finally {
      await hub.stop()
    }
  })

  it('is bounded: a prune keeps the newest `keep` records', async () => {
    await sql`TRUNCATE audit`
    const store = createPgAuditStore(sql, { keep: 5, pruneEvery: 8 })
    for (let n = 1; n <= 8; n++) await store.append(entry(n))
    const listed = (await store.list({}, null, 100)).records.map((r) => (r.detail as { n: number }).n)
    expect(listed).toEqual([8, 7, 6, 5, 4])
  })
})

describe('the audit trail of a cluster', () => {
  let a: TestHub
  let b: TestHub
  let agent: TestSocket
  // A database of their own: the trail holds only what this test's requests leave.
  useTwoClusterHubs(['au-a', 'au-b'], (hubs) => ({ a, b } = hubs))
  beforeAll(async () => {
    agent = await agentOn(b, 'w-1')
  })
  afterAll(() => agent?.close())

  it('records every changing route, allowed and refused, readable from every hub and streamed by every hub', async () => {
    const admin = await mintToken(CLUSTER_SECRET, { role: 'admin', access: 'admin', name: 'root', ttlS: 3600 })
    const viewer = await mintToken(CLUSTER_SECRET, { role: 'admin', access: 'viewer', name: 'watcher', ttlS: 3600 })
    const throwaway = await mintToken(CLUSTER_SECRET, { role: 'admin', access: 'viewer', name: 'spare', ttlS: 3600 })
    const stream = await followEvents(b.running.url, admin.token)
    try {
      const changing = ROUTE_ROLES.filter((r) => r.method !== 'GET' && !r.ownCredential)
      const answered: { action: string; status: number; name: string }[] = []
      for (const row of changing) {
        for (const token of [viewer, admin]) {
          const req = sampleRequest(row, { agentId: 'w-1', jti: throwaway.jti })
          const path = req.path.replace(/^\/api\/admin/, '')
          const r = await a.api(req.method, path, req.body, token.token)
          answered.push({ action: row.action!, status: r.status, name: token === admin ? 'root' : 'watcher' })
        }
      }
      // The viewer was refused everything that changes; the admin was not.
      expect(answered.filter((x) => x.name === 'watcher').every((x) => x.status === 403)).toBe(true)
      expect(answered.filter((x) => x.name === 'root').some((x) => x.status === 403)).toBe(false)
      const listed = await b.api('GET', `/audit?limit=1000`, undefined, admin.token)
      expect(listed.status).toBe(200)
      const records = listed.body.records.slice().reverse()
      expect(records.map((r: any) => ({ action: r.action, status: r.status, name: r.actor.name }))).toEqual(answered)
      expect(JSON.stringify(records)).not.toMatch(/eyJ/)
      // Every record on the events stream of the other hub.
      const audited = () => stream.events.filter((e) => e.event === 'audit')
      await waitFor(() => audited().length, (n) => n >= answered.length, { timeoutMs: 10_000, what: `${answered.length} audit events` })
      const streamed = audited().map((e) => JSON.parse(e.data).audit_id)
      expect(streamed).toEqual(records.map((r: any) => r.audit_id))
    } finally {
      stream.stop()
    }
  })
})

describe('a cluster hub killed right after answering', () => {
  it('still has the record when it starts again', async () => {
    const env = { AGENTCOM_DATABASE_URL: db.url }
    const hub = await startHubProcess(env, 'node')
    let again: Awaited<ReturnType<typeof startHubProcess>> | undefined
    try {
      const res = await hub.api('POST', '/api/admin/healing/pause')
      expect(res.status).toBe(200)
      await hub.crash()
      again = await startHubProcess(env, 'node', { secret: hub.secret, dataDir: hub.dataDir })
      const listed = await again.api('GET', '/api/admin/audit?action=healing.pause')
      expect(listed.body.records[0]).toMatchObject({ action: 'healing.pause', status: 200, actor: { name: 'admin', role: 'admin' } })
    } finally {
      await hub.stop()
      await again?.stop()
    }
  })
})
