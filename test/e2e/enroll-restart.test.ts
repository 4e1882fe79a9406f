/**
 * Enrollment on one hub as a process on its data dir (Node, and Deno in the deno project): of
 * concurrent enrollments of one new id exactly one succeeds, and the enrolled id is on disk
 * before the 201, so a hub killed (SIGKILL) right after still refuses it (409) when it starts
 * again, while the join token's other uses are left.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'

const hubs: HubProcess[] = []
afterEach(async () => {
  for (const hub of hubs.splice(0)) await hub.stop()
})

async function enroll(hub: HubProcess, token: string, agentId: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${hub.url}/api/enroll`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ agent_id: agentId }),
  })
  return { status: res.status, body: await res.json() }
}

describe('enrollment across a hub crash', () => {
  it('enrolls one of concurrent requests for an id, and still refuses that id after a kill -9', async () => {
    const hub = await startHubProcess()
    hubs.push(hub)
    const minted = await hub.api('POST', '/api/admin/join-tokens', { max_uses: 3 })
    expect(minted.status).toBe(201)
    const results = await Promise.all(Array.from({ length: 6 }, () => enroll(hub, minted.body.token, 'crash-1')))
    expect(results.filter((r) => r.status === 201)).toHaveLength(1)
    expect(results.filter((r) => r.status !== 201)).toEqual(Array(5).fill({ status: 409, body: { error: 'agent_exists' } }))
    await hub.crash()

    const again = await startHubProcess({}, hub.runtime, { secret: hub.secret, dataDir: hub.dataDir })
    hubs.push(again)
    expect(await enroll(again, minted.body.token, 'crash-1')).toEqual({ status: 409, body: { error: 'agent_exists' } })
    // One use spent of three: two are left, and no more.
    expect((await enroll(again, minted.body.token, 'crash-2')).status).toBe(201)
    expect((await enroll(again, minted.body.token, 'crash-3')).status).toBe(201)
    expect(await enroll(again, minted.body.token, 'crash-4')).toEqual({ status: 401, body: { error: 'unauthorized' } })
  })
})
