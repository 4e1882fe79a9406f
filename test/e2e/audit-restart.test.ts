/**
 * One hub on its data dir (Node, and Deno in the deno project): the audit record of a request
 * is on disk before the answer, so a hub killed (SIGKILL) right after answering has it when
 * it starts again; so does a refused request's. Named tokens minted over the API work at once.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'

const hubs: HubProcess[] = []
afterEach(async () => {
  for (const hub of hubs.splice(0)) await hub.stop()
})

describe('the audit trail across a hub crash', () => {
  it('keeps the records of requests answered just before a kill -9, allowed and refused', async () => {
    const hub = await startHubProcess()
    hubs.push(hub)
    const minted = await hub.api('POST', '/api/admin/tokens', { role: 'viewer', name: 'grafana', ttl_s: 600 })
    expect(minted).toMatchObject({ status: 201, body: { role: 'viewer', name: 'grafana', jti: expect.any(String), expires_at: expect.any(Number) } })
    const refused = await fetch(`${hub.url}/api/admin/healing/pause`, { method: 'POST', headers: { authorization: `Bearer ${minted.body.token}` } })
    expect(refused.status).toBe(403)
    expect(await refused.json()).toEqual({ error: 'forbidden', required_role: 'operator' })
    await hub.crash()

    const again = await startHubProcess({}, hub.runtime, { secret: hub.secret, dataDir: hub.dataDir })
    hubs.push(again)
    const listed = await again.api('GET', '/api/admin/audit')
    expect(listed.status).toBe(200)
    expect(listed.body.records.map((r: any) => [r.action, r.status, r.actor.name, r.target])).toEqual([
      ['healing.pause', 403, 'grafana', null],
      ['token.mint', 201, 'admin', 'grafana'],
    ])
    expect(listed.body.records[1].detail).toEqual({ role: 'viewer', name: 'grafana', ttl_s: 600 })
    expect(JSON.stringify(listed.body)).not.toContain(minted.body.token)
    expect(again.logs.join('\n')).not.toContain(minted.body.token)
    expect(hub.logs.join('\n')).not.toContain(minted.body.token)
  })
})
