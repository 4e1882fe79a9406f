/**
 * One hub's tasks on the engine over the memory store (hub/tasks/hub-task-owner.ts), on fake
 * timers: what a restart restores is offered at once, a restored retry waits out its delay, and
 * a restored task whose agent never comes back is run elsewhere when its grace runs out, on time.
 * Agents join through the fleet's identify path with a recording Peer (the socket layer's seam).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createTestHub, type OneHub } from '../../support/in-process-hub.ts'
import type { Peer } from '../../hub/agents/fleet.ts'
import type { HubMessage } from '../../shared/protocol.ts'
import type { StoredTask } from '../../hub/tasks/task-store.ts'
import { silentLogger } from '../../shared/log.ts'
import { SECOND } from '../../shared/time.ts'

let hub: OneHub

beforeEach(() => {
  vi.useFakeTimers()
  hub = createTestHub({ secret: 's'.repeat(40), log: silentLogger, acceptTimeoutMs: 5 * SECOND, taskGraceMs: 20 * SECOND })
})
afterEach(() => {
  hub.close()
  vi.useRealTimers()
})

function join(agentId: string) {
  const sent: HubMessage[] = []
  const peer: Peer = { send: (m) => sent.push(m), close: () => {} }
  hub.fleet.identify(agentId, peer, { supervised: false, instance_id: 'i', pm2_info: null })
  hub.tasks.identified(hub.fleet.get(agentId)!, null)
  return { peer, rec: hub.fleet.get(agentId)!, assigned: () => sent.filter((m) => m.type === 'task_assign').map((m) => (m as { task_id: string }).task_id) }
}

function saved(task_id: string, more: Partial<StoredTask> = {}): StoredTask {
  return {
    task_id, status: 'queued', input: { n: 1 }, pinned: null, agent_id: null, attempts: 0,
    result: null, error: null, timeout_ms: 60 * SECOND, created_at: 1, updated_at: 1, assigned_at: null, ...more,
  }
}

const flush = () => vi.advanceTimersByTimeAsync(0)

describe('one hub\'s restored tasks', () => {
  it('offers a restored queued task to a free agent at once, with nothing else happening', async () => {
    const a = join('a-1')
    await flush()
    hub.tasks.restore([saved('t-1')])
    await flush()
    expect(a.assigned()).toEqual(['t-1'])
  })

  it('dispatches a restored retry once its delay is over, not before', async () => {
    const a = join('a-1')
    await flush()
    hub.tasks.restore([saved('t-2', { attempts: 1, retries: 2, retried: 1, run_after: Date.now() + 5 * SECOND })])
    await vi.advanceTimersByTimeAsync(5 * SECOND - 1)
    expect(a.assigned()).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    expect(a.assigned()).toEqual(['t-2'])
  })

  it('runs elsewhere, when the grace runs out, a restored task whose agent never comes back', async () => {
    // The agent's grace runs from this hub's start: the old hub may have died long after it was seen.
    hub.tasks.restore([saved('t-3', { status: 'working', agent_id: 'gone-1', attempts: 1, assigned_at: Date.now() })])
    const b = join('b-1')
    await vi.advanceTimersByTimeAsync(20 * SECOND - 1)
    expect(hub.tasks.get('t-3')).toMatchObject({ status: 'working', agent_id: 'gone-1' })
    await vi.advanceTimersByTimeAsync(1)
    expect(b.assigned()).toEqual(['t-3'])
    expect(hub.tasks.get('t-3')).toMatchObject({ status: 'assigned', agent_id: 'b-1', attempts: 2 })
  })
})

describe('one hub\'s task deadlines', () => {
  it('acts on a gone agent\'s grace when it runs out, between two passes of the sweep', async () => {
    const a = join('a-1')
    const task = hub.tasks.create({ n: 1 }, null, undefined).task
    await flush()
    hub.tasks.accepted(a.rec, task.task_id)
    // Off the sweep's 1 s beat: only the timer armed at the deadline acts on time.
    await vi.advanceTimersByTimeAsync(300)
    hub.fleet.disconnect(a.rec, a.peer)
    hub.tasks.disconnected(a.rec)
    const b = join('b-1')
    await vi.advanceTimersByTimeAsync(20 * SECOND - 1)
    expect(b.assigned()).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    expect(b.assigned()).toEqual([task.task_id])
  })

  it('acts on an overdue task when timeout + grace is reached, between two passes of the sweep', async () => {
    const heard: unknown[] = []
    hub.close()
    hub = createTestHub({ secret: 's'.repeat(40), log: silentLogger, taskGraceMs: 20 * SECOND, onOverdue: (o) => heard.push(o) })
    await vi.advanceTimersByTimeAsync(300)
    const a = join('a-1')
    const task = hub.tasks.create({ n: 1 }, null, 10 * SECOND).task
    await flush()
    hub.tasks.accepted(a.rec, task.task_id)
    await vi.advanceTimersByTimeAsync(30 * SECOND - 1)
    expect(heard).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    expect(heard).toEqual([{ agent_id: 'a-1', task_id: task.task_id, assigned_at: expect.any(Number), waited_ms: 30 * SECOND }])
  })
})
