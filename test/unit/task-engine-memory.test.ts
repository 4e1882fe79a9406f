/**
 * The cluster's task engine (hub/tasks/task-engine.ts) over one hub's memory store
 * (hub/tasks/memory-task-queue-store.ts), with the seams one hub needs: the cluster's claim path
 * (hub/cluster/claim-loop.ts) with a lease that always holds, the nudge to every hub calls this
 * engine, every agent is held here. The first step of one
 * engine for both modes: the engine needs nothing of PostgreSQL. A real Fleet; the agent is a
 * peer that records the frames the hub sends it. Each case runs twice: through the claim loop
 * and the store's awaited operations (as in a cluster), and through the fast path over the
 * store's immediate operations (hub/tasks/immediate-reports.ts), as one hub would.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Fleet, type FleetRestarts, type Peer } from '../../hub/agents/fleet.ts'
import { TaskEngine } from '../../hub/tasks/task-engine.ts'
import { clusterClaimPath } from '../../hub/cluster/claim-loop.ts'
import { startImmediateSweep, sweepIntervalMs } from '../../hub/tasks/immediate-sweep.ts'
import { ChangeFeed } from '../../hub/events/changes.ts'
import { MemoryTaskQueueStore } from '../../hub/tasks/memory-task-queue-store.ts'
import { TASK_EXTRAS_DEFAULTS } from '../../hub/tasks/rules.ts'
import type { TaskStore } from '../../hub/tasks/task-store.ts'
import { MAX_RESULT_BYTES, RESULT_TOO_LARGE, STORAGE_UNAVAILABLE, type HubMessage } from '../../shared/protocol.ts'
import { silentLogger } from '../../shared/log.ts'
import { systemClock } from '../../shared/time.ts'
import { waitFor } from '../../support/wait.ts'
import { overdueDetail, type OverdueTask } from '../../hub/tasks/overdue.ts'

/** No restarts in these tests: the fleet's restart engine answers nothing. */
const NO_RESTARTS: FleetRestarts = {
  identified: () => {}, disconnected: () => {}, restarting: () => {}, taskStarted: () => {}, released: () => {},
  watches: () => false, commandNow: () => ({ ok: false, error: 'agent_not_found' }) as never, restored: () => {}, forgotten: () => {},
}

const closers: Array<() => void> = []
afterEach(() => closers.splice(0).forEach((close) => close()))

function startHub(
  immediate: boolean, taskStore: TaskStore | null = null, storeRetryMs = 60_000, onOverdue = (_overdue: OverdueTask) => {}, now = Date.now,
) {
  const changes = new ChangeFeed()
  const fleet = new Fleet({ clock: systemClock, log: silentLogger, restarts: NO_RESTARTS, offlineTtlMs: 60_000, changes })
  const store = new MemoryTaskQueueStore({
    now, log: silentLogger, maxAttempts: 5, maxFinished: 100, store: taskStore, storeRetryMs,
    agents: {
      claimable: (id) => (fleet.get(id)?.peer ? fleet.get(id)!.labels : null),
      goneSince: (id) => {
        const rec = fleet.get(id)
        return rec === undefined ? undefined : rec.peer ? null : rec.last_seen
      },
    },
  })
  const tasks: TaskEngine = new TaskEngine({
    store, immediate: immediate ? store : undefined, nudgeAll: async () => tasks.nudge(), holds: () => true,
    claimPath: immediate ? undefined : clusterClaimPath({ claim: (agents) => store.claim(agents), lease: { valid: true }, fleet, log: silentLogger }),
    fleet, changes, log: silentLogger, acceptTimeoutMs: 60_000, onOverdue,
  })
  closers.push(() => tasks.close(), () => fleet.close(), () => store.close())
  let n = 0
  const create = async (input: unknown, timeoutMs = 60_000) => {
    const task = await store.insert({ task_id: `t${++n}`, input, pinned: null, timeout_ms: timeoutMs, extras: TASK_EXTRAS_DEFAULTS })
    await tasks.announce()
    return task.task_id
  }
  const agent = (agentId: string, activeTaskId: string | null = null) => {
    const frames: HubMessage[] = []
    const peer: Peer = { send: (frame) => frames.push(frame), close: () => {} }
    fleet.identify(agentId, peer, { pm2_info: null, supervised: true, instance_id: null })
    const rec = fleet.get(agentId)!
    tasks.identified(rec, activeTaskId)
    /** The first frame of `type` not taken yet (an ack may come after the next assignment). */
    const taken = new Set<number>()
    const next = async (type: HubMessage['type']) => {
      const at = await waitFor(() => frames.findIndex((f, i) => !taken.has(i) && f.type === type), (i) => i >= 0, { what: type, timeoutMs: 5000 })
      taken.add(at)
      return frames[at] as HubMessage & { task_id: string }
    }
    return { rec, peer, frames, next, sent: (type: HubMessage['type']) => frames.filter((f) => f.type === type).length }
  }
  return { store, tasks, fleet, create, agent }
}

/** A task file whose saves wait for release() while `held`, and fail while `failing`. */
function heldSaves() {
  const pending: Array<() => void> = []
  const tick = () => new Promise((resolve) => setTimeout(resolve, 0))
  const saves = {
    held: true,
    failing: false,
    taskStore: {
      load: async () => [],
      save: () => new Promise<void>((resolve, reject) => {
        const settle = () => (saves.failing ? reject(new Error('disk full')) : resolve())
        if (saves.held) pending.push(settle)
        else settle()
      }),
    } satisfies TaskStore,
    /** Settles the saves started by now (a save starts a microtask after its change); resolves once their waiters have run. */
    release: async () => {
      await tick()
      for (const settle of pending.splice(0)) settle()
      await tick()
    },
  }
  return saves
}

/**
 * One hub on the fast path whose saves wait for release(): agent `a` and a task created (its
 * insert saved), assigned to `a` in memory, the assignment's save held, so nothing sent yet.
 */
async function assignedUnsaved() {
  const saves = heldSaves()
  const hub = startHub(true, saves.taskStore, 20)
  const a = hub.agent('a')
  const created = hub.create(null)
  await saves.release()
  const taskId = await created
  await new Promise((resolve) => setTimeout(resolve, 0))
  expect(hub.store.peek(taskId)?.status).toBe('assigned')
  return { saves, hub, a, taskId }
}

describe.each([['through the claim loop', false], ['through the immediate operations', true]])('the task engine over one hub\'s memory store, %s', (_, immediate) => {
  const oneHub = () => startHub(immediate)

  it('dispatches a task, stores its outcome once and acknowledges it', async () => {
    const hub = oneHub()
    const a = hub.agent('a')
    const taskId = await hub.create({ n: 1 })
    expect(await a.next('task_assign')).toMatchObject({ task_id: taskId, input: { n: 1 } })
    hub.tasks.accepted(a.rec, taskId)
    await waitFor(() => hub.store.get(taskId), (t) => t?.status === 'working', { what: 'working' })
    hub.tasks.finished(a.rec, taskId, { kind: 'complete', result: { ok: true } })
    expect(await a.next('task_ack')).toEqual({ type: 'task_ack', task_id: taskId })
    expect(await hub.store.get(taskId)).toMatchObject({ status: 'completed', result: { ok: true }, attempts: 1, agent_id: 'a' })
    // Free again: the next task goes to it.
    const next = await hub.create(null)
    expect((await a.next('task_assign')).task_id).toBe(next)
  })

  it(`fails a result over the limit with ${RESULT_TOO_LARGE}`, async () => {
    const hub = oneHub()
    const a = hub.agent('a')
    const taskId = await hub.create(null)
    await a.next('task_assign')
    hub.tasks.finished(a.rec, taskId, { kind: 'complete', result: 'x'.repeat(MAX_RESULT_BYTES + 1) })
    await a.next('task_ack')
    expect(await hub.store.get(taskId)).toMatchObject({ status: 'failed', error: RESULT_TOO_LARGE })
  })

  it(`counts refusals with ${STORAGE_UNAVAILABLE}: refused 5 times, the task fails`, async () => {
    const hub = oneHub()
    const a = hub.agent('a')
    const taskId = await hub.create(null)
    for (let refused = 0; refused < 5; refused++) {
      expect((await a.next('task_assign')).task_id).toBe(taskId)
      hub.tasks.interrupted(a.rec, taskId, STORAGE_UNAVAILABLE, false)
      await a.next('task_ack')
    }
    expect(await hub.store.get(taskId)).toMatchObject({ status: 'failed', attempts: 5, error: 'interrupted 5 times' })
  })
})

describe('the task engine\'s fast path over one hub\'s memory store', () => {
  it('sends an assignment and an ack only once their change is saved; a failed save sends neither', async () => {
    const { saves, hub, a, taskId } = await assignedUnsaved()
    expect(a.sent('task_assign')).toBe(0)
    const sent = a.next('task_assign')
    await saves.release()
    expect((await sent).task_id).toBe(taskId)
    hub.tasks.accepted(a.rec, taskId)
    expect(hub.store.peek(taskId)?.status).toBe('working')
    await saves.release()

    saves.failing = true
    hub.tasks.finished(a.rec, taskId, { kind: 'complete', result: 1 })
    expect(hub.store.peek(taskId)?.status).toBe('completed')
    await saves.release()
    expect(a.sent('task_ack')).toBe(0)
    expect(a.rec.task_id).toBe(taskId)
    // The sidecar, unacknowledged, sends it again: acknowledged once saved (the save tried again), the agent freed.
    saves.failing = false
    saves.held = false
    hub.tasks.finished(a.rec, taskId, { kind: 'complete', result: 1 })
    expect(await a.next('task_ack')).toEqual({ type: 'task_ack', task_id: taskId })
    expect(a.rec.task_id).toBeNull()
  })

  it('cancels an accept of a task that is not the agent\'s', async () => {
    const hub = startHub(true)
    const a = hub.agent('a')
    hub.tasks.accepted(a.rec, 'nope')
    expect(await a.next('task_cancel')).toEqual({ type: 'task_cancel', task_id: 'nope' })
  })
})

describe('one hub\'s identify on the fast path', () => {
  it('reconciles in the step it arrives: a queued task the agent was never given is cancelled on it, its report ignored, then given for real', async () => {
    const hub = startHub(true)
    const taskId = await hub.create(null)
    const a = hub.agent('a', taskId)
    expect(a.frames).toEqual([{ type: 'task_cancel', task_id: taskId }])
    hub.tasks.finished(a.rec, taskId, { kind: 'complete', result: 'forged' })
    expect(hub.store.peek(taskId)).toMatchObject({ status: 'queued', result: null })
    expect((await a.next('task_assign')).task_id).toBe(taskId)
    expect(hub.store.peek(taskId)).toMatchObject({ status: 'assigned', agent_id: 'a', attempts: 1 })
  })

  it('keeps the task an agent comes back with, and runs again, uncounted, one only assigned that it no longer has', async () => {
    const hub = startHub(true)
    const a = hub.agent('a')
    const b = hub.agent('b')
    const kept = await hub.create(1)
    const lost = await hub.create(2)
    await a.next('task_assign')
    await b.next('task_assign')
    hub.tasks.accepted(a.rec, kept)
    const again = hub.agent('a', kept)
    expect(again.rec.task_id).toBe(kept)
    expect(hub.store.peek(kept)).toMatchObject({ status: 'working', agent_id: 'a' })
    const bAgain = hub.agent('b')
    expect(hub.store.peek(lost)).toMatchObject({ attempts: 0 })
    expect((await bAgain.next('task_assign')).task_id).toBe(lost)
  })
})

describe('one hub\'s cancel on the fast path', () => {
  it('cancels a queued task at once: given to no one', async () => {
    const hub = startHub(true)
    const taskId = await hub.create(null)
    expect(hub.tasks.cancel(taskId)).toMatchObject({ ok: true, task: { task_id: taskId, status: 'cancelled' } })
    const a = hub.agent('a')
    const next = await hub.create(2)
    expect((await a.next('task_assign')).task_id).toBe(next)
    expect(a.sent('task_assign')).toBe(1)
  })

  it('tells the agent of a task in flight to stop it; its report then is acknowledged, changes nothing and frees the agent', async () => {
    const hub = startHub(true)
    const a = hub.agent('a')
    const taskId = await hub.create(null)
    await a.next('task_assign')
    hub.tasks.accepted(a.rec, taskId)
    expect(hub.tasks.cancel(taskId)).toMatchObject({ ok: true, task: { status: 'cancelled', agent_id: 'a' } })
    expect(await a.next('task_cancel')).toEqual({ type: 'task_cancel', task_id: taskId, reason: 'cancelled' })
    // Busy until the sidecar reports the stopped task: no next task beside one still dying.
    const next = await hub.create(2)
    await hub.store.durable()
    expect(a.sent('task_assign')).toBe(1)
    hub.tasks.finished(a.rec, taskId, { kind: 'failed', error: 'killed' })
    expect(await a.next('task_ack')).toEqual({ type: 'task_ack', task_id: taskId })
    expect(hub.store.peek(taskId)).toMatchObject({ status: 'cancelled', error: null })
    expect((await a.next('task_assign')).task_id).toBe(next)
  })

  it('frees the agent at once, sending it nothing, when its task is cancelled before the assignment was saved', async () => {
    const { saves, hub, a, taskId } = await assignedUnsaved()
    expect(hub.tasks.cancel(taskId)).toMatchObject({ ok: true })
    expect(a.rec.task_id).toBe(taskId)
    await saves.release()
    expect(a.rec.task_id).toBeNull()
    expect(a.sent('task_assign')).toBe(0)
  })

  it('answers task_not_found and task_finished, changing nothing', async () => {
    const hub = startHub(true)
    const a = hub.agent('a')
    const taskId = await hub.create(null)
    await a.next('task_assign')
    hub.tasks.finished(a.rec, taskId, { kind: 'complete', result: 1 })
    await a.next('task_ack')
    expect(hub.tasks.cancel('nope')).toEqual({ ok: false, error: 'task_not_found' })
    expect(hub.tasks.cancel(taskId)).toEqual({ ok: false, error: 'task_finished' })
    expect(hub.store.peek(taskId)?.status).toBe('completed')
    expect(a.sent('task_cancel')).toBe(0)
  })
})

describe('one hub\'s task deadlines on the fast path (immediate-sweep.ts)', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] }))
  afterEach(() => vi.useRealTimers())

  function sweptHub(graceMs: number) {
    const overdue: string[] = []
    const hub = startHub(true, null, 60_000, (o) => overdue.push(`${o.agent_id}: ${overdueDetail(o)}`))
    const sweep = startImmediateSweep({ tasks: hub.tasks, fleet: hub.fleet, log: silentLogger, graceMs, intervalMs: sweepIntervalMs(graceMs) })
    closers.push(() => sweep.stop())
    return { ...hub, overdue }
  }

  it('runs a task again whose agent never reports it past timeout + grace: the agent told to drop it, healing told', async () => {
    const hub = sweptHub(200)
    const a = hub.agent('a')
    const taskId = await hub.create(null, 300)
    await vi.advanceTimersByTimeAsync(0)
    expect(a.frames).toContainEqual(expect.objectContaining({ type: 'task_assign', task_id: taskId }))
    hub.tasks.accepted(a.rec, taskId)
    await vi.advanceTimersByTimeAsync(450)
    expect(hub.store.peek(taskId)?.status).toBe('working')
    expect(hub.overdue).toEqual([])
    // Past 300 + 200 ms, within one interval (50 ms).
    await vi.advanceTimersByTimeAsync(110)
    expect(hub.overdue).toEqual([`a: task ${taskId} not heard of in 1 s`])
    expect(a.frames).toContainEqual({ type: 'task_cancel', task_id: taskId })
    // Queued again with its attempt counted, and given again (no healing here to hold the agent back).
    await vi.advanceTimersByTimeAsync(0)
    expect(hub.store.peek(taskId)).toMatchObject({ status: 'assigned', attempts: 2, agent_id: 'a' })
    expect(a.sent('task_assign')).toBe(2)
  })

  it('dispatches a retry once its delay is over by the store\'s clock, waiting out a timer that fired early', async () => {
    let now = 1_000_000
    const hub = startHub(true, null, 60_000, undefined, () => now)
    const a = hub.agent('a')
    const taskId = (await hub.store.insert({ task_id: 'r1', input: null, pinned: null, timeout_ms: 60_000, extras: { ...TASK_EXTRAS_DEFAULTS, retries: 1, retry_delay_ms: 500 } })).task_id
    hub.tasks.nudge()
    await vi.advanceTimersByTimeAsync(0)
    hub.tasks.finished(a.rec, taskId, { kind: 'failed', error: 'run 0' })
    await vi.advanceTimersByTimeAsync(0)
    expect(hub.store.peek(taskId)).toMatchObject({ status: 'queued', run_after: 1_000_500 })
    // The timer fires while the store's clock still reads 2 ms short of the retry's time.
    now += 498
    await vi.advanceTimersByTimeAsync(500)
    expect(a.sent('task_assign')).toBe(1)
    now += 2
    await vi.advanceTimersByTimeAsync(2)
    expect(a.sent('task_assign')).toBe(2)
    expect(hub.store.peek(taskId)).toMatchObject({ status: 'assigned', retried: 1 })
  })

  it('queues again, counted, a task whose agent has been gone past the grace; not one whose agent came back in it', async () => {
    const hub = sweptHub(1000)
    const a = hub.agent('a')
    const b = hub.agent('b')
    const first = await hub.create(null)
    const second = await hub.create(null)
    await vi.advanceTimersByTimeAsync(0)
    expect([hub.store.peek(first)?.agent_id, hub.store.peek(second)?.agent_id]).toEqual(['a', 'b'])
    hub.fleet.disconnect(a.rec, a.peer)
    hub.fleet.disconnect(b.rec, b.peer)
    await vi.advanceTimersByTimeAsync(900)
    // b is back with its task within the grace: it keeps it.
    hub.fleet.identify('b', b.peer, { pm2_info: null, supervised: true, instance_id: null })
    hub.tasks.identified(b.rec, second)
    await vi.advanceTimersByTimeAsync(99)
    expect(hub.store.peek(first)?.status).toBe('assigned')
    // At the grace or past it, within one interval (250 ms).
    await vi.advanceTimersByTimeAsync(260)
    expect(hub.store.peek(first)).toMatchObject({ status: 'queued', attempts: 1, agent_id: null })
    expect(a.rec.task_id).toBeNull()
    expect(hub.store.peek(second)).toMatchObject({ status: 'working', agent_id: 'b' })
    await vi.advanceTimersByTimeAsync(2000)
    expect(hub.store.peek(second)).toMatchObject({ status: 'working', agent_id: 'b' })
  })
})
