/**
 * createHub builds its owners over `store` (HubOptions.store): given, the restart and rollout
 * engines keep their state there (a cluster's rows); a cluster without a store, or without its tasks, and
 * shared tasks without a cluster are refused at construction.
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
      ...memoryRestarts(),
      request: async (agentId) => (asked.push(agentId), { ok: false, error: 'not_supervised' }),
      // One hub's admin answers a restart in the same turn (hub/api/admin.ts).
      requestNow: (agentId: string) => (asked.push(agentId), { ok: false, error: 'not_supervised' }),
    }
    const hub = createTestHub({ secret: SECRET, log: silentLogger, store: { restarts } })
    const res = await hub.app.request('/api/admin/agents/far-away/restart', {
      method: 'POST', headers: { authorization: `Bearer ${await signAdminToken(SECRET)}` }, body: '{}',
    })
    expect([res.status, await res.json()]).toEqual([409, { error: 'not_supervised' }])
    expect(asked).toEqual(['far-away'])
    hub.close()
  })

  it('builds its rollout engine over the given store, and answers what it says', async () => {
    const asked: string[][] = []
    const rollouts: HubStore['rollouts'] = {
      insert: async () => { throw new Error('not inserted: its agent is unknown') },
      get: async () => null,
      defaultAgents: async () => [],
      knownAgents: async (ids) => (asked.push(ids), new Map()),
      take: async () => [],
      step: async () => null,
      cancel: async () => false,
    }
    const hub = createTestHub({ secret: SECRET, log: silentLogger, store: { restarts: memoryRestarts(), rollouts } })
    const headers = { authorization: `Bearer ${await signAdminToken(SECRET)}` }
    const created = await hub.app.request('/api/admin/rollouts', { method: 'POST', headers, body: JSON.stringify({ agent_ids: ['elsewhere'] }) })
    expect([created.status, await created.json()]).toEqual([404, { error: 'agent_not_found', agent_id: 'elsewhere' }])
    expect(asked).toEqual([['elsewhere']])
    expect((await hub.app.request('/api/admin/rollouts/r-1', { headers })).status).toBe(404)
    hub.close()
  })

  it('refuses a cluster without its store', () => {
    expect(() => createTestHub({ secret: SECRET, log: silentLogger, cluster: () => { throw new Error('not attached') } }))
      .toThrow(/^options\.store is required with options\.cluster/)
    expect(() => createTestHub({ secret: SECRET, log: silentLogger, store: { restarts: memoryRestarts(), admin: {} as never }, cluster: () => { throw new Error('not attached') } }))
      .toThrow(/^options\.store\.tasks goes with options\.cluster, and only with it/)
  })

  it('refuses shared tasks without a cluster (their admin answers are the cluster\'s)', () => {
    const tasks: HubStore['tasks'] = () => ({
      store: {} as never, outputs: {} as never, nudgeAll: async () => {}, queuedCount: async () => 0, admin: () => ({}) as never,
      claimPath: { start: () => ({ isIdle: () => false, nudge: () => {}, freed: () => {}, close: () => {} }) },
    })
    expect(() => createTestHub({ secret: SECRET, log: silentLogger, store: { restarts: memoryRestarts(), tasks } }))
      .toThrow(/^options\.store\.tasks goes with options\.cluster, and only with it/)
  })
})

/** A restart store that knows no restarts (the test above asks for none). */
function memoryRestarts(): HubStore['restarts'] {
  return {
    request: async () => ({ ok: false, error: 'not_supervised' }),
    requestNow: () => ({ ok: false, error: 'not_supervised' }),
    pending: async () => null,
    get: async () => null,
    move: async () => false,
  }
}
