/**
 * createHub builds its owners over `store` (HubOptions.store): given, the restart engine keeps
 * its restarts there (a cluster's rows); a cluster without a store is refused at construction.
 */
import { describe, expect, it } from 'vitest'
import { createTestHub } from '../../support/in-process-hub.ts'
import type { HubStore } from '../../hub/app.ts'
import { signAdminToken } from '../../hub/auth/auth.ts'
import { silentLogger } from '../../shared/log.ts'

const SECRET = 'h'.repeat(40)

describe('the hub over its store', () => {
  it('asks the given store for a restart, and answers what it says', async () => {
    const asked: string[] = []
    const restarts: HubStore['restarts'] = {
      request: async (agentId) => (asked.push(agentId), { ok: false, error: 'not_supervised' }),
      // One hub's admin answers a restart in the same turn (hub/api/admin.ts).
      requestNow: (agentId: string) => (asked.push(agentId), { ok: false, error: 'not_supervised' }),
      pending: async () => null,
      get: async () => null,
      move: async () => false,
    }
    const hub = createTestHub({ secret: SECRET, log: silentLogger, store: { restarts } })
    const res = await hub.app.request('/api/admin/agents/far-away/restart', {
      method: 'POST', headers: { authorization: `Bearer ${await signAdminToken(SECRET)}` }, body: '{}',
    })
    expect([res.status, await res.json()]).toEqual([409, { error: 'not_supervised' }])
    expect(asked).toEqual(['far-away'])
    hub.close()
  })

  it('refuses a cluster without its store', () => {
    expect(() => createTestHub({ secret: SECRET, log: silentLogger, cluster: () => { throw new Error('not attached') } }))
      .toThrow(/^options\.store is required with options\.cluster/)
  })
})
