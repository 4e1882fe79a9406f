/**
 * The restart engine over a store that answers asynchronously, as the cluster's rows do (the
 * memory store without its synchronous forms): an identify's read of the store comes before
 * what the agent does next, and a hub keeps moves only of agents it holds. Both stores run the
 * behaviour suite (test/behaviour/restarts.test.ts); these are the orderings only an
 * asynchronous store can get wrong.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Fleet, Peer } from '../../hub/agents/fleet.ts'
import { createFleetRestarts } from '../../hub/agents/fleet-restarts.ts'
import { MemoryRestartStore } from '../../hub/agents/memory-restart-store.ts'
import type { RestartStore } from '../../hub/agents/restart-store.ts'
import { ChangeFeed } from '../../hub/events/changes.ts'
import type { HubMessage } from '../../shared/protocol.ts'
import { silentLogger } from '../../shared/log.ts'
import { SECOND } from '../../shared/time.ts'

const closers: Array<() => void> = []
afterEach(() => {
  for (const close of closers.splice(0)) close()
  vi.useRealTimers()
})

function setup(holds: (agentId: string) => boolean = () => true) {
  const clock = { now: () => Date.now() }
  const changes = new ChangeFeed(() => {})
  // Read once the fleet exists (below): the store is given when the fleet is built.
  let built: Fleet | undefined
  const memory = new MemoryRestartStore({ clock, agent: (id) => built!.get(id) })
  const moves: string[] = []
  // Only the asynchronous operations, as PgRestartStore offers them.
  const store: RestartStore = {
    request: (id, cmd) => memory.request(id, cmd),
    pending: (id) => memory.pending(id),
    get: (id) => memory.get(id),
    move: async (id, restartId, state, error) => {
      moves.push(state)
      return memory.move(id, restartId, state, error)
    },
  }
  // The fleet and the engine wired as createHub wires them, over that store.
  const fleetRestarts = createFleetRestarts({
    clock, log: silentLogger, newId: () => 'r-1', changes, offlineTtlMs: 60 * SECOND, timeoutMs: 5 * SECOND, store, holds,
  })
  const fleet = built = fleetRestarts.fleet
  const engine = fleetRestarts.restarts
  closers.push(() => {
    engine.close()
    fleet.close()
  })
  const sent: HubMessage[] = []
  const join = (pid: number) => {
    const peer: Peer = { send: (m) => sent.push(m), close: () => {} }
    fleet.identify('a-1', peer, {
      supervised: true, instance_id: `i-${pid}`,
      pm2_info: { name: 'a-1', pm_id: 0, pid, status: 'online', uptime_ms: 0, restart_count: 0, memory_bytes: 0 },
    })
    return { peer, rec: fleet.get('a-1')! }
  }
  return { fleet, engine, join, sent, moves }
}

const settled = () => new Promise((resolve) => setTimeout(resolve, 0))

describe('the restart engine over an asynchronous store', () => {
  it('settles an identify from the store before the task the agent reports: a graceful restart of the same process is deferred again', async () => {
    const { fleet, engine, join, sent } = setup()
    const first = join(100)
    expect(await engine.command('a-1', { reason: 'x', mode: 'graceful', deadline_s: null })).toMatchObject({ ok: true, restart: { state: 'commanded' } })
    fleet.disconnect(first.rec, first.peer)
    await settled()
    expect(first.rec.restart?.state).toBe('restarting')
    // The same process is back with its task still running: the store's read is still on its way.
    const back = join(100)
    fleet.holding(back.rec, 't-1')
    await settled()
    expect(back.rec.restart?.state).toBe('deferred')
    expect(sent.filter((m) => m.type === 'restart_sidecar')).toHaveLength(2)
    fleet.release(back.rec, 't-1')
    await settled()
    expect(back.rec.restart?.state).toBe('commanded')
  })

  it('completes the restart when a new process identifies', async () => {
    const { fleet, engine, join } = setup()
    const first = join(100)
    await engine.command('a-1', { reason: 'x', mode: 'force', deadline_s: null })
    fleet.disconnect(first.rec, first.peer)
    const back = join(101)
    await settled()
    expect(back.rec.restart).toMatchObject({ restart_id: 'r-1', state: 'completed', error: null })
    expect(fleet.isAvailable('a-1')).toBe(true)
  })

  it('keeps no move of an agent it no longer holds (a cluster sweep fails it on database time), but shows it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    let held = true
    const { fleet, engine, join, moves } = setup(() => held)
    const first = join(100)
    await engine.command('a-1', { reason: 'x', mode: 'graceful', deadline_s: null })
    fleet.disconnect(first.rec, first.peer)
    held = false
    await vi.advanceTimersByTimeAsync(5 * SECOND)
    expect(first.rec.restart).toMatchObject({ state: 'failed', error: 'timeout' })
    expect(moves).toEqual(['restarting'])
  })
})
