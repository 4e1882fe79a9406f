/**
 * Enrollment and host facts across the hubs of a cluster: a join token's uses are counted in
 * the database, so however the requests are spread over hubs and raced, at most max_uses
 * enroll; an agent known on one hub is refused (409) on another, and of concurrent enrollments
 * of one new id on both hubs exactly one succeeds; the version and host an agent
 * sent at identify read the same on every hub, with the ?version= filter.
 */
import { describe, expect, it } from 'vitest'
import type { TestDatabase } from '../../support/test-database.ts'
import { agentOn, useTwoClusterHubs, type TestHub } from '../../support/cluster-hubs.ts'
import { waitFor } from '../../support/wait.ts'
import { createPgJoinUses } from '../../hub/pg/join-use-rows.ts'

let db: TestDatabase
let a: TestHub
let b: TestHub
const sockets = useTwoClusterHubs(['en-a', 'en-b'], (hubs) => ({ db, a, b } = hubs))

async function enroll(hub: TestHub, token: string, agentId: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${hub.running.url}/api/enroll`, {
    method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ agent_id: agentId }),
  })
  return { status: res.status, body: await res.json() }
}

describe('enrollment in the cluster', () => {
  it('enrolls at most max_uses agents across hubs and concurrent requests', async () => {
    const minted = await a.api('POST', '/join-tokens', { max_uses: 3 })
    expect(minted.status).toBe(201)
    const ids = Array.from({ length: 10 }, (_, i) => `c-${i}`)
    const results = await Promise.all(ids.map((id, i) => enroll(i % 2 === 0 ? a : b, minted.body.token, id)))
    expect(results.filter((r) => r.status === 201)).toHaveLength(3)
    expect(results.filter((r) => r.status === 401)).toHaveLength(7)
    const rows = await db.connect()`SELECT uses FROM join_token_uses WHERE jti = ${minted.body.jti}`
    expect(rows.map((r) => r.uses)).toEqual([3])
  })

  it('counts each use once in the store, however many clients race', async () => {
    const clients = [db.connect(), db.connect()]
    const stores = clients.map(createPgJoinUses)
    const jti = `${'a'.repeat(32)}.${Math.floor(Date.now() / 1000) + 600}`
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => stores[i % 2].enroll({
      agentId: `store-${i}`, jti, maxUses: 4, expiresAtMs: Date.now() + 600_000, rememberMs: 60_000,
    })))
    expect(outcomes.filter((o) => o === 'enrolled')).toHaveLength(4)
    expect(outcomes.filter((o) => o === 'used_up')).toHaveLength(16)
    await Promise.all(clients.map((sql) => sql.end()))
  })

  it('of concurrent enrollments of one new id across hubs, enrolls exactly one; the others get 409 and spend no use', async () => {
    const minted = await a.api('POST', '/join-tokens', { max_uses: 20 })
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => enroll(i % 2 === 0 ? a : b, minted.body.token, 'race-1')))
    expect(results.filter((r) => r.status === 201)).toHaveLength(1)
    expect(results.filter((r) => r.status !== 201)).toEqual(Array(9).fill({ status: 409, body: { error: 'agent_exists' } }))
    const uses = await db.connect()`SELECT uses FROM join_token_uses WHERE jti = ${minted.body.jti}`
    expect(uses.map((r) => r.uses)).toEqual([1])
    // Known to every hub from the 201 on, before its agent ever connects.
    for (const hub of [a, b]) expect(await enroll(hub, minted.body.token, 'race-1')).toEqual({ status: 409, body: { error: 'agent_exists' } })
    expect((await enroll(b, minted.body.token, 'race-2')).status).toBe(201)
  })

  it('leaves the id free when the token is used up (the enrollment rolled back whole), and once forgotten', async () => {
    const sql = db.connect()
    const store = createPgJoinUses(sql)
    const jti = `${'b'.repeat(32)}.${Math.floor(Date.now() / 1000) + 600}`
    const enrollment = (agentId: string, token = jti) => ({ agentId, jti: token, maxUses: 1, expiresAtMs: Date.now() + 600_000, rememberMs: 60_000 })
    expect(await store.enroll(enrollment('free-1'))).toBe('enrolled')
    expect(await store.enroll(enrollment('free-2'))).toBe('used_up')
    expect(await store.enroll(enrollment('free-2', `${'c'.repeat(32)}.${Math.floor(Date.now() / 1000) + 600}`))).toBe('enrolled')
    expect(await store.enroll(enrollment('free-1', `${'d'.repeat(32)}.${Math.floor(Date.now() / 1000) + 600}`))).toBe('agent_exists')
    // Remembered for no time at all: forgotten by the next enrollment, which may take the id.
    const other = `${'e'.repeat(32)}.${Math.floor(Date.now() / 1000) + 600}`
    expect(await store.enroll({ ...enrollment('brief-1', other), maxUses: 2, rememberMs: 0 })).toBe('enrolled')
    expect(await store.enroll({ ...enrollment('brief-1', other), maxUses: 2 })).toBe('enrolled')
    await sql.end()
  })

  it('refuses an agent another hub knows with 409, and a join token revoked on another hub', async () => {
    sockets.push(await agentOn(a, 'known-on-a'))
    const minted = await b.api('POST', '/join-tokens', { max_uses: 5 })
    expect(await enroll(b, minted.body.token, 'known-on-a')).toEqual({ status: 409, body: { error: 'agent_exists' } })
    expect((await a.api('POST', '/tokens/revoke', { jti: minted.body.jti })).status).toBe(200)
    await waitFor(() => enroll(b, minted.body.token, 'after-revoke'), (r) => r.status === 401, { what: 'the revoke on hub b' })
  })

  it('shows the version and host an agent sent at identify on every hub, with ?version=', async () => {
    const facts = { version: '9.8.7', node_version: 'v20.11.0', hostname: 'box-1', platform: 'linux', arch: 'x64' }
    sockets.push(await agentOn(a, 'facts-1', facts))
    sockets.push(await agentOn(b, 'facts-old'))
    const host = { hostname: 'box-1', platform: 'linux', arch: 'x64', node_version: 'v20.11.0' }
    for (const hub of [a, b]) {
      expect((await hub.api('GET', '/agents/facts-1')).body).toMatchObject({ version: '9.8.7', host })
      expect((await hub.api('GET', '/agents/facts-old')).body).toMatchObject({ version: null, host: null })
      expect((await hub.api('GET', '/agents?version=9.8.7')).body.agents.map((x: any) => x.agent_id)).toEqual(['facts-1'])
    }
  })
})
