/**
 * Healing's one runtime (hub/healing/healing-runtime.ts) and its bus and lease seam, which is
 * the store's: over one hub's store (no `wakeDecider`) a nudge is the hub's own next step and the
 * lease always holds; over a store that wakes the deciders (a cluster's NOTIFY) a nudge only asks,
 * and a nudge heard steps only the hub holding the decider's lease. The decider steps are counted
 * on the real MemoryHealingStore; the NOTIFY itself is test/pg's.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createFleetRestarts } from '../../hub/agents/fleet-restarts.ts'
import { ChangeFeed } from '../../hub/events/changes.ts'
import { HealingRuntime } from '../../hub/healing/healing-runtime.ts'
import { MemoryHealingStore } from '../../hub/healing/memory-healing-store.ts'
import { resolveHealingSettings } from '../../hub/healing/healing-settings.ts'
import type { HealingStep } from '../../hub/healing/healing-store.ts'
import { silentLogger } from '../../shared/log.ts'
import { systemClock } from '../../shared/time.ts'

class CountedStore extends MemoryHealingStore {
  decides = 0
  /** Whether the lease is this hub's (one hub: always). */
  leaseHeld = true
  override async decide<T>(fn: (step: HealingStep) => Promise<T>) {
    this.decides++
    return this.leaseHeld ? super.decide(fn) : null
  }
}

/** As a cluster's store: a nudge goes to every hub's decider (recorded here). */
class WakingStore extends CountedStore {
  wakes = 0
  async wakeDecider(): Promise<void> {
    this.wakes++
  }
}

const open: Array<() => void> = []
afterEach(() => {
  for (const close of open.splice(0)) close()
})

const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve))
}

function runtimeOver<S extends CountedStore>(Store: new (o: ConstructorParameters<typeof MemoryHealingStore>[0]) => S) {
  let ids = 0
  const newId = () => `id-${++ids}`
  const changes = new ChangeFeed((err) => { throw err })
  const { fleet, restarts } = createFleetRestarts({ clock: systemClock, log: silentLogger, newId, changes, offlineTtlMs: 60_000, timeoutMs: 60_000 })
  const settings = resolveHealingSettings({})
  const store = new Store({ fleet, clock: systemClock, settings, rolloutRunning: () => false, changed() {}, durable: async () => {} })
  const runtime = new HealingRuntime({
    store, fleet, changes, log: silentLogger, newId, hubId: 'h', settings, alerts: null, holds: () => true,
  })
  open.push(() => {
    runtime.close()
    restarts.close()
    fleet.close()
  })
  return { store, runtime }
}

describe('healing runtime', () => {
  it('one hub: a nudge is its own next step, and its lease always holds', async () => {
    const { store, runtime } = runtimeOver(CountedStore)
    expect(runtime.isDecider).toBe(false)
    runtime.nudge()
    await settle()
    expect(store.decides).toBe(1)
    expect(runtime.isDecider).toBe(true)
    await runtime.pause()
    await runtime.resume()
    await settle()
    expect(store.decides).toBe(2) // what waited for the resume may start
  })

  it('a store that wakes the deciders: a nudge asks them, and a nudge heard steps only the decider', async () => {
    const { store, runtime } = runtimeOver(WakingStore)
    runtime.nudge()
    await settle()
    expect([store.wakes, store.decides]).toEqual([1, 0])
    // Not the decider yet: another hub's takes it at its sweep, not at a nudge.
    runtime.nudged()
    await settle()
    expect(store.decides).toBe(0)
    await runtime.step()
    expect([store.decides, runtime.isDecider]).toEqual([1, true])
    runtime.nudged()
    await settle()
    expect(store.decides).toBe(2)
    // The store's resume wakes the deciders itself: no step of its own here.
    await runtime.resume()
    await settle()
    expect(store.decides).toBe(2)
    // The lease lost: this hub stops deciding, and nudges heard no longer step it.
    store.leaseHeld = false
    await runtime.step()
    expect([store.decides, runtime.isDecider]).toEqual([3, false])
    runtime.nudged()
    await settle()
    expect(store.decides).toBe(3)
  })

  it('steps never overlap: asked during one, it runs once more after; after close, none', async () => {
    const { store, runtime } = runtimeOver(CountedStore)
    const first = runtime.step()
    void runtime.step()
    void runtime.step()
    await first
    await settle()
    expect(store.decides).toBe(2)
    runtime.close()
    await runtime.step()
    expect(store.decides).toBe(2)
  })
})
