/**
 * One hub answers a restart, a drain or a resume once the change is saved in its data dir
 * (hub/store/saved-answers.ts), as a cluster answers once its row is committed: the answer
 * waits for the save, not for the saver's spacing, and a save that fails answers 503
 * storage_unavailable with the change kept in memory and saved once the disk is back. The store
 * is the file store's interface over a map whose saves can be held or made to fail.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Hub } from '../../hub/app.ts'
import { signAdminToken } from '../../hub/auth/auth.ts'
import type { FleetState, FleetStateStore } from '../../hub/store/fleet-state.ts'
import type { HubMessage } from '../../shared/protocol.ts'
import { silentLogger } from '../../shared/log.ts'
import { startInProcessHub } from '../../support/in-process-hub.ts'
import { waitFor } from '../../support/wait.ts'

const SECRET = 's'.repeat(40)

let hub: Hub
let failing: string | null
let saved: FleetState | null
let held: Promise<void> | null
let auth: Record<string, string>

const store: FleetStateStore = {
  load: async () => saved,
  save: async (text) => {
    await held
    if (failing) throw new Error(failing)
    saved = JSON.parse(text) as FleetState
  },
}

beforeEach(async () => {
  failing = null
  saved = null
  held = null
  hub = startInProcessHub({ secret: SECRET, log: silentLogger, fleetStateStore: store, storeRetryMs: 50 }).hub
  auth = { authorization: `Bearer ${await signAdminToken(SECRET)}`, 'content-type': 'application/json' }
})
afterEach(() => hub.close())

function connect(agentId: string): HubMessage[] {
  const sent: HubMessage[] = []
  const pm2Info = { name: agentId, pm_id: 0, pid: 1, status: 'online', uptime_ms: 0, restart_count: 0, memory_bytes: 0 }
  hub.fleet.identify(agentId, { send: (m: HubMessage) => sent.push(m), close() {} } as never, { pm2_info: pm2Info, supervised: true, instance_id: `${agentId}-1` })
  return sent
}

const post = (path: string, body?: unknown) =>
  hub.app.request(`/api/admin${path}`, { method: 'POST', headers: auth, body: body === undefined ? undefined : JSON.stringify(body) })
const savedAgent = (agentId: string) => saved?.agents.find((a) => a.agent_id === agentId)

describe('one hub answers fleet changes once saved', () => {
  it('answers a restart after its save, not before, and sends it to the agent at once', async () => {
    const sent = connect('a-1')
    connect('d-1')
    expect((await post('/agents/d-1/drain')).status).toBe(200) // a save just now: the next would wait out the spacing
    let release!: () => void
    held = new Promise((resolve) => { release = resolve })
    let answered = false
    const answer = Promise.resolve(post('/agents/a-1/restart', { reason: 'kept' })).then((res) => {
      answered = true
      return res
    })
    await waitFor(() => sent.length, (n) => n === 1, { what: 'the restart sent' })
    expect(sent[0]).toMatchObject({ type: 'restart_sidecar', reason: 'kept' })
    await new Promise((resolve) => setImmediate(resolve))
    expect(answered).toBe(false)
    release()
    const res = await answer
    expect(res.status).toBe(200)
    const { restart_id } = await res.json() as { restart_id: string }
    expect(savedAgent('a-1')?.restart).toMatchObject({ restart_id, reason: 'kept' })
  })

  it('answers 503 when the save fails, keeps the drain and saves it once the disk is back', async () => {
    connect('d-1')
    failing = 'ENOSPC: no space left on device'
    const res = await post('/agents/d-1/drain')
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual({ error: 'storage_unavailable' })
    expect(hub.fleet.get('d-1')!.drained).toBe(true)
    failing = null
    await waitFor(() => savedAgent('d-1')?.drained, (drained) => drained === true, { what: 'the drain saved after the retry' })
  })
})
