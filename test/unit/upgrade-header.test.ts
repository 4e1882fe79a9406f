/**
 * Where the core reads a request's `upgrade` header (hub/security/headers.ts refuses upgrades
 * anywhere but /ws): through the hub's `upgradeHeader` seam, which the Node hub fills from the
 * request Node's parser made (hub/node/upgrade-header.ts).
 */
import { describe, expect, it } from 'vitest'
import type { Context } from 'hono'
import { createTestHub } from '../../support/in-process-hub.ts'
import { nodeUpgradeHeader } from '../../hub/node/upgrade-header.ts'
import { silentLogger } from '../../shared/log.ts'

const SECRET = 'u'.repeat(40)

describe('the upgrade header seam', () => {
  it('is what the core asks: an upgrade it reports is refused off /ws, whatever the headers say', async () => {
    const asked: string[] = []
    const hub = createTestHub({
      secret: SECRET, log: silentLogger,
      upgradeHeader: (c) => (asked.push(c.req.path), c.req.path === '/health' ? 'WebSocket' : undefined),
    })
    const refused = await hub.app.request('/health')
    expect([refused.status, await refused.json()]).toEqual([404, { error: 'not_found', detail: 'WebSocket upgrades are served at /ws only' }])
    // An upgrade header the seam does not report is not read past it.
    const served = await hub.app.request('/api/openapi.json', { headers: { upgrade: 'websocket' } })
    expect(served.status).toBe(200)
    expect(asked).toEqual(['/health', '/api/openapi.json'])
    hub.close()
  })

  it('defaults to the request header', async () => {
    const hub = createTestHub({ secret: SECRET, log: silentLogger })
    expect((await hub.app.request('/health', { headers: { upgrade: 'websocket' } })).status).toBe(404)
    expect((await hub.app.request('/health')).status).toBe(200)
    hub.close()
  })

  it('on Node reads the parser\'s headers, and the request\'s where Node handed none', () => {
    const onNode = { env: { incoming: { headers: { upgrade: 'websocket' } } }, req: { header: () => 'not read' } } as unknown as Context
    expect(nodeUpgradeHeader(onNode)).toBe('websocket')
    const noUpgrade = { env: { incoming: { headers: {} } }, req: { header: () => 'not read' } } as unknown as Context
    expect(nodeUpgradeHeader(noUpgrade)).toBeUndefined()
    const byRequest = { env: undefined, req: { header: (name: string) => (name === 'upgrade' ? 'websocket' : undefined) } } as unknown as Context
    expect(nodeUpgradeHeader(byRequest)).toBe('websocket')
  })
})
