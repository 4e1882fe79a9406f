/**
 * The fleet's alerts on one hub, on fake timers: `agent_offline` once after the agent has been
 * gone AGENTCOM_ALERT_OFFLINE_S (not before, not again), `agent_recovered` once when it is
 * back, a new episode after that; none while a restart of it is in progress; `rollout_failed`
 * once for a rollout whose agent did not come back. A recording AlertSender stands in for the
 * webhook (alert-signature.test.ts covers delivery).
 */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createTestHub, type OneHub } from '../../support/in-process-hub.ts'
import { signAdminToken } from '../../hub/auth/auth.ts'
import type { Alert, AlertSender } from '../../hub/alerts/alerts.ts'
import { startLocalFleetAlerts } from '../../hub/alerts/local-fleet-alerts.ts'
import type { Peer } from '../../hub/sockets/bus.ts'
import { silentLogger } from '../../shared/log.ts'
import { FLEET_STATE_FILE, createFileFleetStateStore } from '../../hub/store/fleet-state.ts'
import { nodeStateFiles } from '../../hub/node/platform.ts'

const SECRET = 's'.repeat(40)
const T0 = Date.UTC(2030, 0, 1)
const OFFLINE_MS = 300_000

let hub: OneHub
let sent: Alert[]
let watch: { stop(): void }
let auth: Record<string, string>

beforeEach(async () => {
  vi.useFakeTimers({ now: T0 })
  hub = createTestHub({ secret: SECRET, log: silentLogger, restartTimeoutMs: 120_000 })
  sent = []
  const recorder: AlertSender = { send: (a) => sent.push(a), pending: 0, close: () => {} }
  watch = startLocalFleetAlerts({ fleet: hub.fleet, rollouts: hub.rollouts, changes: hub.changes, alerts: recorder, episodes: hub.alertEpisodes!, offlineMs: OFFLINE_MS, clock: { now: () => Date.now() }, log: silentLogger })
  auth = { authorization: `Bearer ${await signAdminToken(SECRET)}`, 'content-type': 'application/json' }
})
afterEach(() => {
  watch.stop()
  hub.close()
  vi.useRealTimers()
})

function connect(agentId: string, restartCount = 0): Peer {
  const peer: Peer = { send: () => {}, close: () => {} }
  hub.fleet.identify(agentId, peer, {
    supervised: true, instance_id: `i-${restartCount}`,
    pm2_info: { name: agentId, pm_id: 1, pid: 100 + restartCount, status: 'online', uptime_ms: 1, restart_count: restartCount, memory_bytes: 1 },
  })
  hub.tasks.identified(hub.fleet.get(agentId)!, null)
  return peer
}
const disconnect = (agentId: string, peer: Peer) => hub.fleet.disconnect(hub.fleet.get(agentId)!, peer)
const types = () => sent.map((a) => `${a.type} ${a.agent_id}`)

describe('agent_offline and agent_recovered', () => {
  it('alerts once after the set time offline, once when back, and again for a new episode', async () => {
    const first = connect('w-1')
    await vi.advanceTimersByTimeAsync(10_000)
    disconnect('w-1', first)
    await vi.advanceTimersByTimeAsync(OFFLINE_MS - 2000)
    expect(sent).toEqual([])
    await vi.advanceTimersByTimeAsync(2000)
    expect(sent).toEqual([{ type: 'agent_offline', agent_id: 'w-1', detail: 'offline for 300 s', at: T0 + 10_000 + OFFLINE_MS }])
    await vi.advanceTimersByTimeAsync(20 * 60_000)
    expect(types()).toEqual(['agent_offline w-1'])

    const back = connect('w-1')
    await vi.advanceTimersByTimeAsync(1000)
    expect(types()).toEqual(['agent_offline w-1', 'agent_recovered w-1'])
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(types()).toEqual(['agent_offline w-1', 'agent_recovered w-1'])

    disconnect('w-1', back)
    await vi.advanceTimersByTimeAsync(OFFLINE_MS + 1000)
    expect(types()).toEqual(['agent_offline w-1', 'agent_recovered w-1', 'agent_offline w-1'])
  })

  it('says nothing of an agent back within the set time', async () => {
    const peer = connect('w-2')
    disconnect('w-2', peer)
    await vi.advanceTimersByTimeAsync(OFFLINE_MS - 5000)
    connect('w-2')
    await vi.advanceTimersByTimeAsync(OFFLINE_MS * 3)
    expect(sent).toEqual([])
  })

  it('waits while a restart of it is in progress, and alerts once that restart has failed', async () => {
    const peer = connect('w-3')
    const res = await hub.app.request('/api/admin/agents/w-3/restart', { method: 'POST', headers: auth, body: '{}' })
    expect(res.status).toBe(200)
    disconnect('w-3', peer)
    // Restart pending: gone past the set time, still no alert.
    await vi.advanceTimersByTimeAsync(100_000)
    expect(hub.fleet.get('w-3')!.restart?.state).not.toBe('failed')
    await vi.advanceTimersByTimeAsync(30_000)
    expect(hub.fleet.get('w-3')!.restart?.state).toBe('failed')
    expect(sent).toEqual([])
    await vi.advanceTimersByTimeAsync(OFFLINE_MS)
    expect(types()).toEqual(['agent_offline w-3'])
  })
})

describe('across a hub restart on the same data dir', () => {
  it('sends no second agent_offline for the same episode, and agent_recovered when the agent is back', async () => {
    const store = createFileFleetStateStore(join(await mkdtemp(join(tmpdir(), 'agentcom-alerts-')), FLEET_STATE_FILE), nodeStateFiles, silentLogger)
    const restart = async () => {
      await hub.fleetState?.durable()
      watch.stop()
      hub.close()
      hub = createTestHub({ secret: SECRET, log: silentLogger, fleetStateStore: store, restoredFleetState: await store.load() })
      watch = startLocalFleetAlerts({ fleet: hub.fleet, rollouts: hub.rollouts, changes: hub.changes, alerts: recorder, episodes: hub.alertEpisodes!, offlineMs: OFFLINE_MS, clock: { now: () => Date.now() }, log: silentLogger })
    }
    const recorder: AlertSender = { send: (a) => sent.push(a), pending: 0, close: () => {} }
    await restart() // the beforeEach hub had no data dir: from here on, one that saves
    const peer = connect('w-9')
    disconnect('w-9', peer)
    await vi.advanceTimersByTimeAsync(OFFLINE_MS + 1000)
    expect(types()).toEqual(['agent_offline w-9'])

    await restart()
    await vi.advanceTimersByTimeAsync(OFFLINE_MS + 1000)
    expect(types()).toEqual(['agent_offline w-9'])
    connect('w-9')
    await vi.advanceTimersByTimeAsync(1000)
    expect(types()).toEqual(['agent_offline w-9', 'agent_recovered w-9'])

    // Recovered before this restart: the episode is over for the next hub too.
    await restart()
    connect('w-9')
    await vi.advanceTimersByTimeAsync(OFFLINE_MS + 1000)
    expect(types()).toEqual(['agent_offline w-9', 'agent_recovered w-9'])
  })
})

describe('rollout_failed', () => {
  it('alerts once when a rollout fails because its agent did not come back', async () => {
    connect('w-4')
    const res = await hub.app.request('/api/admin/rollouts', { method: 'POST', headers: auth, body: JSON.stringify({ agent_ids: ['w-4'] }) })
    expect(res.status).toBe(201)
    const { rollout_id } = await res.json() as { rollout_id: string }
    // The agent never identifies again: its restart fails, and with it the rollout.
    disconnect('w-4', hub.fleet.get('w-4')!.peer!)
    await vi.advanceTimersByTimeAsync(125_000)
    expect((await hub.rollouts.view(rollout_id))!.state).toBe('failed')
    expect(sent.filter((a) => a.type === 'rollout_failed')).toEqual([
      { type: 'rollout_failed', rollout_id, agent_id: 'w-4', detail: expect.any(String), at: expect.any(Number) },
    ])
    await vi.advanceTimersByTimeAsync(60_000)
    expect(sent.filter((a) => a.type === 'rollout_failed').length).toBe(1)
  })
})
