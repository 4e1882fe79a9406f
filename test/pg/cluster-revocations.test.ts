/**
 * Revocations across the hubs of a cluster: a revoke answered by one hub is refused by every
 * hub, closes the agent's socket on whichever hub holds it, survives a hub restart, and is
 * caught up after a hub missed its notification.
 */
import { describe, expect, it } from 'vitest'
import { mintToken } from '../../hub/auth/auth.ts'
import type { TestDatabase } from '../../support/test-database.ts'
import { CLUSTER_SECRET, agentOn, startClusterHub, useTwoClusterHubs, type TestHub } from '../../support/cluster-hubs.ts'
import { openSocket, type TestSocket } from '../../support/ws-client.ts'
import { waitFor } from '../../support/wait.ts'
import { ClusterRevocations } from '../../hub/cluster/cluster-revocations.ts'
import { createPgBus } from '../../hub/pg/notify-bus.ts'
import { silentLogger } from '../../shared/log.ts'
import { signAgentToken } from '../../hub/auth/auth.ts'
import { startClusterRuntime } from '../../hub/cluster/runtime.ts'
import { startNodeHub } from '../../hub/node/serve.ts'
import type { ClusterAttach } from '../../hub/cluster-seam.ts'

let db: TestDatabase
let a: TestHub
let b: TestHub

const sockets = useTwoClusterHubs(['rv-a', 'rv-b'], (hubs) => ({ db, a, b } = hubs))

async function identifyWith(hub: TestHub, agentId: string, token: string): Promise<{ reply: any; socket: TestSocket }> {
  const socket = await openSocket(hub.wsUrl)
  sockets.push(socket)
  socket.send({ type: 'identify', agent_id: agentId, token, protocol_version: 1, pm2_info: null, supervised: true })
  return { reply: await socket.next(), socket }
}

const adminToken = () => mintToken(CLUSTER_SECRET, { role: 'admin', ttlS: 3600 })

describe('revocations in the cluster', () => {
  it("revoking an agent on hub A closes its socket on hub B with 4001, and every hub refuses its old token", async () => {
    const minted = await mintToken(CLUSTER_SECRET, { role: 'agent', sub: 'r-1' })
    const onB = await agentOn(b, 'r-1', {}, minted.token)
    sockets.push(onB)
    const res = await a.api('POST', '/agents/r-1/revoke')
    expect(res).toMatchObject({ status: 200, body: { agent_id: 'r-1', revoked_before: expect.any(Number) } })
    expect(await onB.next('error')).toEqual({ type: 'error', error: 'unauthorized' })
    expect((await onB.closed).code).toBe(4001)
    for (const hub of [a, b]) {
      const { reply, socket } = await identifyWith(hub, 'r-1', minted.token)
      expect(reply).toEqual({ type: 'error', error: 'unauthorized' })
      expect((await socket.closed).code).toBe(4001)
    }
  })

  it('a token minted on hub B right after the revoke on hub A is accepted on both', async () => {
    await a.api('POST', '/agents/r-2/revoke')
    const fresh = await b.api('POST', '/agents/r-2/tokens', {})
    expect(fresh.status).toBe(201)
    const cutOff = (await a.api('POST', '/agents/r-2/revoke')).body.revoked_before
    const after = (await b.api('POST', '/agents/r-2/tokens', {})).body
    expect(after.issued_at).toBeGreaterThan(cutOff)
    for (const hub of [b, a]) {
      const { reply } = await identifyWith(hub, 'r-2', after.token)
      expect(reply).toEqual({ type: 'identified', agent_id: 'r-2' })
    }
  })

  it('a token revoked by jti on hub B is refused on hub A', async () => {
    const admin = await adminToken()
    expect((await a.api('GET', '/agents', undefined, admin.token)).status).toBe(200)
    expect(await b.api('POST', '/tokens/revoke', { jti: admin.jti })).toEqual({ status: 200, body: { jti: admin.jti, revoked: true } })
    // Delivered by NOTIFY at B's commit: milliseconds.
    await waitFor(() => a.api('GET', '/agents', undefined, admin.token), (r) => r.status === 401, { what: 'A refuses the revoked token', timeoutMs: 2000 })
    expect((await b.api('GET', '/agents', undefined, admin.token)).status).toBe(401)
  })

  it('a hub started later refuses what was revoked before it joined', async () => {
    const admin = await adminToken()
    await a.api('POST', '/tokens/revoke', { jti: admin.jti })
    const c = await startClusterHub(db.url, 'rv-c')
    try {
      expect((await c.api('GET', '/agents', undefined, admin.token)).status).toBe(401)
    } finally {
      await c.stop()
    }
  })

  it('an identify still joining the cluster when its agent is revoked is refused (4001) and leaves no live row', async () => {
    const runtime = await startClusterRuntime({ databaseUrl: db.url, hubId: 'rv-gate', leaseMs: 3000, runtime: 'node', log: silentLogger, sweepMs: 200 })
    let openGate!: () => void
    const gate = new Promise<void>((resolve) => (openGate = resolve))
    let joining!: () => void
    const joinStarted = new Promise<void>((resolve) => (joining = resolve))
    // The seam the entries use, with its admit held until the revocation is in.
    const attach: ClusterAttach = (local) => {
      const seam = runtime.attach(local)
      return { ...seam, admit: async (...args) => (joining(), await gate, seam.admit(...args)) }
    }
    const running = await startNodeHub({
      port: 0, host: '127.0.0.1', secret: CLUSTER_SECRET, hubId: 'rv-gate', cluster: attach, store: runtime.store, revocations: runtime.revocations, log: silentLogger,
    })
    try {
      const socket = await openSocket(`${running.url.replace('http', 'ws')}/ws`)
      sockets.push(socket)
      socket.send({ type: 'identify', agent_id: 'rv-join', token: await signAgentToken(CLUSTER_SECRET, 'rv-join'), protocol_version: 1, pm2_info: null, supervised: true })
      await joinStarted
      expect((await a.api('POST', '/agents/rv-join/revoke')).status).toBe(200)
      expect(await socket.next()).toEqual({ type: 'error', error: 'unauthorized' })
      openGate()
      expect((await socket.closed).code).toBe(4001)
      await waitFor(() => a.api('GET', '/agents/rv-join'), (r) => r.status === 404 || r.body.connected === false, { what: 'no live row' })
      const sql = db.connect({ max: 1 })
      await waitFor(() => sql`SELECT connected FROM agents WHERE agent_id = 'rv-join'`, (rows) => rows.every((r) => !r.connected), { what: 'row released' })
      await sql.end()
    } finally {
      openGate()
      await running.close()
      await runtime.stop()
    }
  })

  it("cuts off on the database's clock, not on the revoking hub's", async () => {
    const sql = db.connect({ max: 2 })
    const bus = await createPgBus(sql, { hubId: 'rv-skewed' })
    const hourAhead = { now: () => Date.now() + 3_600_000 }
    const store = await ClusterRevocations.open({ sql, bus, clock: hourAhead, log: silentLogger })
    const [{ before }] = await sql<{ before: number }[]>`SELECT epoch_ms(clock_timestamp()) AS before`
    const cutOff = await store.revokeAgent('rv-skew-1')
    const [{ after }] = await sql<{ after: number }[]>`SELECT epoch_ms(clock_timestamp()) AS after`
    expect(cutOff).toBeGreaterThanOrEqual(before)
    expect(cutOff).toBeLessThanOrEqual(after)
    expect(store.revokedBefore('rv-skew-1')).toBe(cutOff)
    store.close()
    await bus.close()
    await sql.end()
  })

  it('a hub that missed the notification catches up when it LISTENs again', async () => {
    const admin = await adminToken()
    expect((await b.api('GET', '/agents', undefined, admin.token)).status).toBe(200)
    // Written as another hub would, but with no notification: B cannot know yet.
    const sql = db.connect({ max: 1 })
    await sql`INSERT INTO revoked_tokens (jti, expires_at) VALUES (${admin.jti}, now() + interval '1 hour')`
    expect((await b.api('GET', '/agents', undefined, admin.token)).status).toBe(200)
    const killed = await sql`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
      WHERE application_name = 'agentcom rv-b' AND query ILIKE 'listen%'`
    expect(killed.length).toBe(1)
    await waitFor(() => b.api('GET', '/agents', undefined, admin.token), (r) => r.status === 401, { what: 'B reloads after re-LISTEN', timeoutMs: 10_000 })
  })
})
