/**
 * The fleet state's journal (hub/store/fleet-journal.ts, fleet-state.ts): a save appends what
 * changed and leaves the snapshot alone; a hub built on the files gets the snapshot with the
 * journal replayed; a torn last line, a journal of an older snapshot and a failed append (a full
 * disk) lose nothing acknowledged; an old snapshot without a generation loads and is upgraded by
 * the next save; past its bound the journal is compacted into a snapshot.
 */
import { appendFile, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FLEET_STATE_FILE, createFileFleetStateStore, encodeFleetState } from '../../hub/store/fleet-state.ts'
import { MIN_COMPACT_BYTES, journalPathOf } from '../../hub/store/journaled-file.ts'
import type { TaskFiles } from '../../hub/tasks/task-store.ts'
import { nodeStateFiles } from '../../hub/node/platform.ts'
import { createTestHub } from '../../support/in-process-hub.ts'
import { silentLogger } from '../../shared/log.ts'

const peer = { send() {}, close() {} } as never
const identify = (hub: ReturnType<typeof createTestHub>, agentId: string) =>
  hub.fleet.identify(agentId, peer, { pm2_info: null, supervised: true, instance_id: `${agentId}-1` })

async function files() {
  const dir = await mkdtemp(join(tmpdir(), 'agentcom-fleet-journal-'))
  const path = join(dir, FLEET_STATE_FILE)
  return { path, journal: journalPathOf(path), read: (p: string) => readFile(p, 'utf8') }
}

const identifyWatched = (hub: ReturnType<typeof createTestHub>, agentId: string) => {
  const n = Number(agentId.slice(1))
  const pm2_info = { name: agentId, pm_id: n, pid: 1000 + n, status: 'online', uptime_ms: 0, restart_count: 0, memory_bytes: 0 }
  hub.fleet.identify(agentId, peer, { pm2_info, supervised: true, instance_id: `${agentId}-1` })
}

const emptyHealing = { paused: false, actions: [] }

describe('the fleet state journal', () => {
  it('appends only what changed, and a hub built on the files has all of it', async () => {
    const { path, journal, read } = await files()
    const store = createFileFleetStateStore(path, nodeStateFiles, silentLogger)
    const options = { secret: 's'.repeat(40), log: silentLogger, fleetStateStore: store }
    const first = createTestHub(options)
    for (const id of ['a1', 'a2', 'a3']) identify(first, id)
    first.fleet.drain('a1')
    await first.fleetState!.durableNow() // the first save after start: a snapshot
    const snapshot = await read(path)
    expect(JSON.parse(snapshot)).toMatchObject({ version: 1, generation: 1, agents: [{ agent_id: 'a1', drained: true }] })

    first.fleet.drain('a2')
    await first.fleetState!.durableNow()
    first.fleet.drain('a3')
    first.fleet.resume('a1')
    await first.fleetState!.durableNow()
    first.close()
    expect(await read(path)).toBe(snapshot)
    const lines = (await read(journal)).trim().split('\n').map((l) => JSON.parse(l))
    expect(lines).toEqual([
      { journal: 1, generation: 1 },
      { agent: expect.objectContaining({ agent_id: 'a2', drained: true }) },
      { agent: expect.objectContaining({ agent_id: 'a3', drained: true }) },
      { agent_gone: 'a1' },
    ])

    const second = createTestHub({ ...options, restoredFleetState: await store.load() })
    expect(second.fleet.list().map((a) => [a.agent_id, a.drained])).toEqual([['a2', true], ['a3', true]])
    second.close()
  })

  it('a snapshot holds every watched agent, encoded anew from healing (their JSON is not kept between saves)', async () => {
    const { path, journal, read } = await files()
    const store = createFileFleetStateStore(path, nodeStateFiles, silentLogger)
    const options = { secret: 's'.repeat(40), log: silentLogger, fleetStateStore: store }
    const watchedIds = (text: string) => JSON.parse(text).healing_agents.map((w: { agent_id: string }) => w.agent_id)
    const first = createTestHub(options)
    for (const id of ['w1', 'w2']) identifyWatched(first, id)
    await first.fleetState!.durableNow() // the first save after start: a snapshot
    expect(watchedIds(await read(path))).toEqual(['w1', 'w2'])
    identifyWatched(first, 'w3')
    await first.fleetState!.durableNow()
    first.close()
    expect((await read(journal)).split('\n')[1]).toContain('"watch":{"agent_id":"w3"')

    const second = createTestHub({ ...options, restoredFleetState: await store.load() })
    identifyWatched(second, 'w4')
    await second.fleetState!.durableNow() // the first save after a load: a snapshot of what was restored
    second.close()
    expect(watchedIds(await read(path))).toEqual(['w1', 'w2', 'w3', 'w4'])
    expect(await read(journal)).toBe('{"journal":1,"generation":2}\n')
    const third = createTestHub({ ...options, restoredFleetState: await store.load() })
    expect(['w1', 'w2', 'w3', 'w4'].map((id) => third.localHealing!.savedWatch(id)?.pid)).toEqual([1001, 1002, 1003, 1004])
    third.close()
  })

  it('ignores a torn last line and a journal that follows an older snapshot', async () => {
    const { path, journal } = await files()
    const agent = (agent_id: string) => ({ agent_id, supervised: true, pm2_info: null, last_seen: 1, drained: true, quarantined: false, restart: null })
    await writeFile(path, encodeFleetState({ agents: [], rollouts: [], healing: JSON.stringify(emptyHealing), generation: 3 }))
    await writeFile(journal, `{"journal":1,"generation":3}\n{"agent":${JSON.stringify(agent('k1'))}}\n{"agent":{"agent_id":"k2","supervi`)
    const store = createFileFleetStateStore(path, nodeStateFiles, silentLogger)
    expect((await store.load())!.agents.map((a) => a.agent_id)).toEqual(['k1'])

    await writeFile(journal, `{"journal":1,"generation":2}\n{"agent":${JSON.stringify(agent('old'))}}\n`)
    expect((await store.load())!.agents).toEqual([])
  })

  it('loads a snapshot written before the journal, and the next save upgrades it', async () => {
    const { path, journal, read } = await files()
    const old = { version: 1, agents: [{ agent_id: 'o1', supervised: true, pm2_info: null, last_seen: 1, drained: true, quarantined: false, restart: null }], rollouts: [], healing: emptyHealing }
    await writeFile(path, JSON.stringify(old))
    const store = createFileFleetStateStore(path, nodeStateFiles, silentLogger)
    const hub = createTestHub({ secret: 's'.repeat(40), log: silentLogger, fleetStateStore: store, restoredFleetState: await store.load() })
    expect(hub.fleet.get('o1')).toMatchObject({ drained: true })
    identify(hub, 'o2')
    hub.fleet.drain('o2')
    await hub.fleetState!.durableNow()
    hub.close()
    expect(JSON.parse(await read(path))).toMatchObject({ generation: 1, agents: [{ agent_id: 'o1' }, { agent_id: 'o2' }] })
    expect(await read(journal)).toBe('{"journal":1,"generation":1}\n')
  })

  it('after a failed append (a full disk, half a line written) the next save is a snapshot: nothing acknowledged is lost', async () => {
    const { path, journal, read } = await files()
    let full = false
    const disk: TaskFiles = {
      ...nodeStateFiles,
      async append(p, text) {
        if (!full) return nodeStateFiles.append(p, text)
        await appendFile(p, text.slice(0, 10))
        throw new Error('ENOSPC: no space left on device')
      },
    }
    const store = createFileFleetStateStore(path, disk, silentLogger)
    const hub = createTestHub({ secret: 's'.repeat(40), log: silentLogger, fleetStateStore: store, storeRetryMs: 20 })
    for (const id of ['f1', 'f2']) identify(hub, id)
    hub.fleet.drain('f1')
    await hub.fleetState!.durableNow()
    full = true
    hub.fleet.drain('f2')
    await expect(hub.fleetState!.durableNow()).rejects.toThrow('no space left on device')
    expect(await read(journal)).toMatch(/\n\{"agent":\{$/)
    full = false
    await hub.fleetState!.durable() // the retry, a spacing later
    hub.close()
    expect(JSON.parse(await read(path))).toMatchObject({ generation: 2, agents: [{ agent_id: 'f1' }, { agent_id: 'f2' }] })
    expect(await read(journal)).toBe('{"journal":1,"generation":2}\n')
    expect((await store.load())!.agents.map((a) => a.agent_id)).toEqual(['f1', 'f2'])
  })

  it('compacts the journal into a snapshot past its bound', async () => {
    const { path, journal, read } = await files()
    const store = createFileFleetStateStore(path, nodeStateFiles, silentLogger)
    const state = (n: number) => (g = 0) => encodeFleetState({ agents: [], rollouts: [], healing: JSON.stringify({ paused: n % 2 === 1, actions: [] }), generation: g })
    await store.saveChanges!('', state(0))
    const line = `{"healing":{"paused":true,"actions":[]},"pad":"${'x'.repeat(10_000)}"}\n`
    let appends = 0
    while ((await read(journal)).length <= MIN_COMPACT_BYTES) {
      await store.saveChanges!(line, state(1))
      appends++
    }
    expect(appends).toBe(Math.floor(MIN_COMPACT_BYTES / line.length) + 1)
    await store.saveChanges!(`{"healing":{"paused":false,"actions":[]}}\n`, state(2))
    expect(JSON.parse(await read(path))).toMatchObject({ generation: 2, healing: { paused: false } })
    expect(await read(journal)).toBe('{"journal":1,"generation":2}\n')
  })
})
