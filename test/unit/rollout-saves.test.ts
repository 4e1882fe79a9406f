/**
 * One hub's rollouts answer once saved (hub/rollouts/memory-store.ts over the fleet state saver):
 * a rollout that cannot be saved is not created (503 storage_unavailable, no restart commanded);
 * a cancel that cannot be saved is kept and saved once the disk is back. The store here is the
 * file store's interface over a map whose saves can be made to fail.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Hub } from '../../hub/app.ts'
import { createTestHub } from '../../support/in-process-hub.ts'
import { signAdminToken } from '../../hub/auth/auth.ts'
import type { FleetState, FleetStateStore } from '../../hub/store/fleet-state.ts'
import type { HubMessage } from '../../shared/protocol.ts'
import { silentLogger } from '../../shared/log.ts'
import { waitFor } from '../../support/wait.ts'

const SECRET = 's'.repeat(40)

let hub: Hub
let failing: string | null
let saved: FleetState | null
let auth: Record<string, string>

const store: FleetStateStore = {
  load: async () => saved,
  save: async (text) => {
    if (failing) throw new Error(failing)
    saved = JSON.parse(text) as FleetState
  },
}

beforeEach(async () => {
  failing = null
  saved = null
  hub = createTestHub({ secret: SECRET, log: silentLogger, fleetStateStore: store, storeRetryMs: 50 })
  auth = { authorization: `Bearer ${await signAdminToken(SECRET)}`, 'content-type': 'application/json' }
})
afterEach(() => hub.close())

function connect(agentId: string): HubMessage[] {
  const sent: HubMessage[] = []
  hub.fleet.identify(agentId, { send: (m: HubMessage) => sent.push(m), close() {} } as never, { pm2_info: null, supervised: true, instance_id: `${agentId}-1` })
  return sent
}

const post = (path: string, body?: unknown) =>
  hub.app.request(`/api/admin${path}`, { method: 'POST', headers: auth, body: body === undefined ? undefined : JSON.stringify(body) })

describe('one hub saves its rollouts before it answers', () => {
  it('does not create a rollout it cannot save: 503, and no restart commanded', async () => {
    const sent = connect('a-1')
    failing = 'ENOSPC: no space left on device'
    const res = await post('/rollouts', { agent_ids: ['a-1'] })
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual({ error: 'storage_unavailable' })
    expect(sent.filter((m) => m.type === 'restart_sidecar')).toEqual([])
    expect(hub.fleet.get('a-1')!.restart).toBeNull()

    failing = null
    const ok = await post('/rollouts', { agent_ids: ['a-1'] })
    expect(ok.status).toBe(201)
    const { rollout_id } = await ok.json() as { rollout_id: string }
    expect(saved!.rollouts.map((r) => r.rollout_id)).toEqual([rollout_id])
    expect(sent.filter((m) => m.type === 'restart_sidecar')).toHaveLength(1)
  })

  it('keeps a cancel it could not save, answers 503, and saves it once the disk is back', async () => {
    connect('a-1')
    connect('a-2')
    const created = await post('/rollouts', { agent_ids: ['a-1', 'a-2'] })
    const { rollout_id } = await created.json() as { rollout_id: string }
    expect(saved!.rollouts).toEqual([expect.objectContaining({ rollout_id, state: 'running' })])
    failing = 'EIO: i/o error'
    const res = await post(`/rollouts/${rollout_id}/cancel`)
    expect(res.status).toBe(503)
    const now = await hub.app.request(`/api/admin/rollouts/${rollout_id}`, { headers: auth })
    expect(await now.json()).toMatchObject({ state: 'cancelled' })
    failing = null
    await waitFor(async () => saved!.rollouts[0].state, (state) => state === 'cancelled', { what: 'the cancel saved' })
  })
})
