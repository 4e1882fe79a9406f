/**
 * Rollouts waiting for offline agents, and memory bounded by age, on fake timers (the hub's other
 * deadlines: hub-timers.test.ts).
 */
import { describe, expect, it, vi } from 'vitest'
import { SECOND } from '../../shared/time.ts'
import { createRollout, flush, hub, join, replaceHub, useTimerHub, viewRollout as view } from '../../support/timer-hub.ts'

useTimerHub()

describe('rollouts and offline agents', () => {
  function restartAndReturn(agentId: string, a: ReturnType<typeof join>, count: number) {
    hub.fleet.disconnect(a.rec, a.peer)
    return join(agentId, count)
  }

  it('waits, in order, for an agent that is offline at its turn, and goes on when it returns', async () => {
    const a = join('a-1')
    const b = join('b-1')
    hub.fleet.disconnect(b.rec, b.peer)
    const rolloutId = await createRollout(['a-1', 'b-1'])
    restartAndReturn('a-1', a, 1)
    await flush()
    expect((await view(rolloutId)).agents.map((x) => x.state)).toEqual(['completed', 'waiting'])
    await vi.advanceTimersByTimeAsync(30 * SECOND)
    expect((await view(rolloutId)).state).toBe('running')
    const b2 = join('b-1')
    await flush()
    expect(b2.sent.some((m) => m.type === 'restart_sidecar')).toBe(true)
    restartAndReturn('b-1', b2, 1)
    await flush()
    expect((await view(rolloutId)).state).toBe('completed')
  })

  it('fails when the offline agent is not back within the restart timeout', async () => {
    join('a-1')
    const b = join('b-1')
    hub.fleet.disconnect(b.rec, b.peer)
    const rolloutId = await createRollout(['b-1', 'a-1'])
    await vi.advanceTimersByTimeAsync(60 * SECOND)
    const rollout = await view(rolloutId)
    expect(rollout).toMatchObject({ state: 'failed', error: 'agent b-1 was not connected at its turn' })
    expect(rollout.agents.map((x) => x.restart_id)).toEqual([null, null])
    expect(rollout.agents.map((x) => x.state)).toEqual(['failed', 'waiting'])
  })
})

describe('memory bounded by age', () => {
  it('forgets an offline agent with no task after the offline TTL, and not one that still holds a task', async () => {
    replaceHub({ offlineTtlMs: 120 * SECOND, taskGraceMs: 3600 * SECOND })
    const idle = join('idle-1')
    const busy = join('busy-1')
    hub.tasks.create({ n: 1 }, 'busy-1', 3600 * SECOND)
    await flush()
    hub.fleet.disconnect(idle.rec, idle.peer)
    hub.fleet.disconnect(busy.rec, busy.peer)
    hub.tasks.disconnected(busy.rec)
    await vi.advanceTimersByTimeAsync(119 * SECOND)
    expect(hub.fleet.get('idle-1')).toBeDefined()
    // Checked every minute at most: gone within a minute past the TTL.
    await vi.advanceTimersByTimeAsync(61 * SECOND)
    expect(hub.fleet.get('idle-1')).toBeUndefined()
    expect(hub.fleet.get('busy-1')).toBeDefined()
  })

  it('keeps at most the last 100 finished rollouts', async () => {
    join('a-1')
    const ids: string[] = []
    for (let i = 0; i < 102; i++) {
      const id = await createRollout(['a-1'])
      await hub.rollouts.cancel(id)
      ids.push(id)
    }
    expect(await hub.rollouts.view(ids[0])).toBeNull()
    expect(await hub.rollouts.view(ids[1])).toBeNull()
    expect(await hub.rollouts.view(ids[2])).toMatchObject({ state: 'cancelled' })
    expect(await hub.rollouts.view(ids[101])).toMatchObject({ state: 'cancelled' })
  })
})
