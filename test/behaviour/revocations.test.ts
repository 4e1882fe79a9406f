/**
 * Revocations, the same on both stores: an agent's tokens or one token by its jti, the live
 * connection closed at once, the revoked token refused after, a token minted after it accepted;
 * kept across a hub restart with a join token's uses and the audit trail.
 */
import { describe, expect, it } from 'vitest'
import { CLOSE } from '../../shared/protocol.ts'
import { mintToken } from '../../hub/auth/auth.ts'
import { CLUSTER_SECRET, pm2Info } from '../../support/cluster-hubs.ts'
import { STORE, useStoreHubs, type StoreHub } from '../../support/store-hub.ts'
import { identifiedSocket, openSocket } from '../../support/ws-client.ts'

const hubs = useStoreHubs()

async function mint(hub: StoreHub, agentId: string): Promise<{ token: string; jti: string }> {
  const res = await hub.api('POST', `/agents/${agentId}/tokens`, {})
  expect(res.status).toBe(201)
  return res.body
}

/** An identify with `token`, expected refused: the close code. */
async function refusedIdentify(hub: StoreHub, agentId: string, token: string): Promise<number> {
  const socket = await openSocket(hub.wsUrl)
  socket.send({ type: 'identify', agent_id: agentId, token, protocol_version: 1, pm2_info: pm2Info(0, 100), supervised: true })
  return (await socket.closed).code
}

describe(`revocations on the ${STORE} store`, () => {
  it("revoking an agent closes its connection and refuses its older tokens; a newer one is accepted", async () => {
    const hub = await hubs.start()
    const old = await mint(hub, 'v1')
    const live = await identifiedSocket(hub.wsUrl, 'v1', old.token, { pm2_info: pm2Info(0, 100) })
    const res = await hub.api('POST', '/agents/v1/revoke')
    expect(res).toMatchObject({ status: 200, body: { agent_id: 'v1', revoked_before: expect.any(Number) } })
    expect((await live.closed).code).toBe(CLOSE.UNAUTHORIZED)
    expect(await refusedIdentify(hub, 'v1', old.token)).toBe(CLOSE.UNAUTHORIZED)
    const fresh = await mint(hub, 'v1')
    const back = await identifiedSocket(hub.wsUrl, 'v1', fresh.token, { pm2_info: pm2Info(0, 100) })
    back.close()
  })

  it('revoking one token by its jti closes the connections that used it and leaves the agent\'s others', async () => {
    const hub = await hubs.start()
    const first = await mint(hub, 'v2')
    const second = await mint(hub, 'v2')
    const live = await identifiedSocket(hub.wsUrl, 'v2', first.token, { pm2_info: pm2Info(0, 100) })
    expect(await hub.api('POST', '/tokens/revoke', { jti: first.jti })).toEqual({ status: 200, body: { jti: first.jti, revoked: true } })
    expect((await live.closed).code).toBe(CLOSE.UNAUTHORIZED)
    expect(await refusedIdentify(hub, 'v2', first.token)).toBe(CLOSE.UNAUTHORIZED)
    const other = await identifiedSocket(hub.wsUrl, 'v2', second.token, { pm2_info: pm2Info(0, 100) })
    other.close()
  })

  it('a revoked admin token is refused on the API; a bad jti is invalid_request', async () => {
    const hub = await hubs.start()
    const admin = await mintToken(CLUSTER_SECRET, { role: 'admin' })
    const agents = () => fetch(`${hub.url}/api/admin/agents`, { headers: { authorization: `Bearer ${admin.token}` } })
    expect((await agents()).status).toBe(200)
    expect((await hub.api('POST', '/tokens/revoke', { jti: admin.jti })).status).toBe(200)
    const refused = await agents()
    expect(refused.status).toBe(401)
    expect(await refused.json()).toEqual({ error: 'unauthorized' })
    expect(await hub.api('POST', '/tokens/revoke', { jti: 'not a jti' })).toMatchObject({ status: 400, body: { error: 'invalid_request' } })
  })

  it("keeps a revocation, a join token's uses and the audit trail across a hub restart", async () => {
    const hub = await hubs.start()
    const old = await mint(hub, 'v3')
    expect((await hub.api('POST', '/agents/v3/revoke')).status).toBe(200)
    const join = await hub.api('POST', '/join-tokens', { max_uses: 1 })
    expect(join.status).toBe(201)
    const enroll = (agentId: string) => fetch(`${hub.url}/api/enroll`, {
      method: 'POST', headers: { authorization: `Bearer ${join.body.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ agent_id: agentId }),
    })
    expect((await enroll('e1')).status).toBe(201)
    const trail = (await hub.api('GET', '/audit?limit=50')).body.records.map((r: any) => [r.audit_id, r.action])

    await hub.restart()

    expect(await refusedIdentify(hub, 'v3', old.token)).toBe(CLOSE.UNAUTHORIZED)
    expect((await enroll('e2')).status).toBe(401)
    const after = (await hub.api('GET', '/audit?limit=50')).body.records.map((r: any) => [r.audit_id, r.action])
    expect(after).toEqual(expect.arrayContaining(trail))
  })
})
