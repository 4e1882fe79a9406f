/**
 * A single hub's fleet state file (hub/store/): spaced saves, validation on load (a corrupt file
 * moved aside, an older file without `healing_agents` loaded), and round trips through a hub
 * built on the same file.
 */
import { mkdtemp, readdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Persister } from '../../hub/store/persister.ts'
import { FLEET_STATE_FILE, createFileFleetStateStore } from '../../hub/store/fleet-state.ts'
import { nodeStateFiles } from '../../hub/node/platform.ts'
import { createTestHub } from '../../support/in-process-hub.ts'
import { silentLogger } from '../../shared/log.ts'
import { pm2Info } from '../../support/cluster-hubs.ts'

afterEach(() => {
  vi.useRealTimers()
})

describe('Persister with minIntervalMs', () => {
  it('starts saves at least that far apart; the changes between ride on the next', async () => {
    vi.useFakeTimers()
    const saves: number[] = []
    let version = 0
    const p = new Persister<number>({ save: async (v) => void saves.push(v) }, () => version, {
      log: silentLogger, now: () => Date.now(), retryMs: 1000, minIntervalMs: 1000,
    })
    version = 1
    p.touch()
    await vi.advanceTimersByTimeAsync(0)
    expect(saves).toEqual([1])
    version = 2
    p.touch()
    version = 3
    p.touch()
    const durable = p.durable()
    await vi.advanceTimersByTimeAsync(999)
    expect(saves).toEqual([1])
    await vi.advanceTimersByTimeAsync(1)
    await expect(durable).resolves.toBeUndefined()
    expect(saves).toEqual([1, 3])
    p.close()
  })
})

describe('the fleet state file', () => {
  it('moves a file that is not a fleet state aside and starts without it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agentcom-fleet-'))
    const path = join(dir, FLEET_STATE_FILE)
    const store = createFileFleetStateStore(path, nodeStateFiles, silentLogger, () => 42)
    expect(await store.load()).toBeNull()
    await writeFile(path, JSON.stringify({ version: 1, agents: [{ agent_id: 'bad id!' }], rollouts: [], healing: { paused: false, actions: [] } }))
    expect(await store.load()).toBeNull()
    expect(await readdir(dir)).toEqual([`${FLEET_STATE_FILE}.corrupt-42`])
  })

  it('brings back a drained agent, healing paused and a rollout in a hub built on the same file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agentcom-fleet-'))
    const store = createFileFleetStateStore(join(dir, FLEET_STATE_FILE), nodeStateFiles, silentLogger)
    const options = { secret: 's'.repeat(40), log: silentLogger, fleetStateStore: store }
    const first = createTestHub(options)
    first.fleet.identify('d1', { send() {}, close() {} } as never, { pm2_info: null, supervised: true, instance_id: 'i1' })
    first.fleet.drain('d1')
    await first.healing!.pause()
    first.fleet.identify('gone', { send() {}, close() {} } as never, { pm2_info: null, supervised: true, instance_id: 'i2' })
    first.fleet.disconnect(first.fleet.get('gone')!, first.fleet.get('gone')!.peer!)
    const created = await first.rollouts.create({ reason: 'r', agent_ids: ['gone'], max_unavailable: 1, mode: 'graceful', deadline_s: null })
    if (!created.ok) throw new Error(created.error)
    const rollout = created.rollout
    await first.fleetState!.durable()
    first.close()

    const second = createTestHub({ ...options, restoredFleetState: await store.load() })
    expect(second.fleet.get('d1')).toMatchObject({ drained: true, peer: null })
    expect((await second.healing!.view()).paused).toBe(true)
    expect(await second.rollouts.view(rollout.rollout_id)).toMatchObject({ state: 'running', reason: 'r' })
    second.close()
  })

  it('loads a file saved before healing kept its agents: their next identify is the baseline', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agentcom-fleet-'))
    const path = join(dir, FLEET_STATE_FILE)
    await writeFile(path, JSON.stringify({ version: 1, agents: [], rollouts: [], healing: { paused: false, actions: [] } }))
    const loaded = await createFileFleetStateStore(path, nodeStateFiles, silentLogger).load()
    expect(loaded).toEqual({ agents: [], rollouts: [], healing: { paused: false, actions: [], agents: [] }, alertedOffline: [] })
  })

  it("keeps an agent's last process and crashes; one that does not come back is forgotten after the offline TTL", async () => {
    vi.useFakeTimers({ now: 1_800_000_000_000 })
    const dir = await mkdtemp(join(tmpdir(), 'agentcom-fleet-'))
    const store = createFileFleetStateStore(join(dir, FLEET_STATE_FILE), nodeStateFiles, silentLogger)
    const options = {
      secret: 's'.repeat(40), log: silentLogger, fleetStateStore: store, offlineTtlMs: 60_000,
    }
    const peer = { send() {}, close() {} } as never
    const first = createTestHub(options)
    first.fleet.identify('c1', peer, { pm2_info: pm2Info(0, 100), supervised: true, instance_id: 'i1' })
    first.fleet.identify('c1', peer, { pm2_info: pm2Info(1, 101), supervised: true, instance_id: 'i2' })
    const crashedAt = Date.now()
    await vi.advanceTimersByTimeAsync(1000)
    await first.fleetState!.durable()
    first.close()

    const second = createTestHub({ ...options, restoredFleetState: await store.load() })
    expect(second.fleet.get('c1')).toBeUndefined()
    expect(second.localHealing!.savedWatch('c1')).toEqual({ agent_id: 'c1', restart_count: 1, pid: 101, crashes: [crashedAt], keep_until: crashedAt + 1000 + 60_000 })
    await vi.advanceTimersByTimeAsync(60_000)
    expect(second.localHealing!.savedWatch('c1')).toBeNull()
    await vi.advanceTimersByTimeAsync(1000)
    await second.fleetState!.durable()
    second.close()
    expect((await store.load())!.healing.agents).toEqual([])
  })
})
