/**
 * The cluster's task engine (hub/cluster/cluster-tasks.ts) over one hub's memory store
 * (hub/tasks/memory-task-queue-store.ts), with the seams one hub needs: the lease always holds,
 * the nudge to every hub calls this engine, every agent is held here. The first step of one
 * engine for both modes: the engine needs nothing of PostgreSQL. A real Fleet; the agent is a
 * peer that records the frames the hub sends it. Each case runs twice: through the claim loop
 * and the store's awaited operations (as in a cluster), and through the fast path over the
 * store's immediate operations (hub/cluster/immediate-reports.ts), as one hub would.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Fleet, type FleetRestarts, type Peer } from '../../hub/agents/fleet.ts'
import { ClusterTasks } from '../../hub/cluster/cluster-tasks.ts'
import { ChangeFeed } from '../../hub/events/changes.ts'
import { MemoryTaskQueueStore } from '../../hub/tasks/memory-task-queue-store.ts'
import { TASK_EXTRAS_DEFAULTS } from '../../hub/tasks/rules.ts'
import type { TaskStore } from '../../hub/tasks/task-store.ts'
import { MAX_RESULT_BYTES, RESULT_TOO_LARGE, STORAGE_UNAVAILABLE, type HubMessage } from '../../shared/protocol.ts'
import { silentLogger } from '../../shared/log.ts'
import { systemClock } from '../../shared/time.ts'
import { waitFor } from '../../support/wait.ts'

/** No restarts in these tests: the fleet's restart engine answers nothing. */
const NO_RESTARTS: FleetRestarts = {
  identified: () => {}, disconnected: () => {}, restarting: () => {}, taskStarted: () => {}, released: () => {},
  watches: () => false, commandNow: () => ({ ok: false, error: 'agent_not_found' }) as never, restored: () => {}, forgotten: () => {},
}

const closers: Array<() => void> = []
afterEach(() => closers.splice(0).forEach((close) => close()))

function startHub(immediate: boolean, taskStore: TaskStore | null = null, storeRetryMs = 60_000) {
  const changes = new ChangeFeed()
  const fleet = new Fleet({ clock: systemClock, log: silentLogger, restarts: NO_RESTARTS, offlineTtlMs: 60_000, changes })
  const store = new MemoryTaskQueueStore({
    now: Date.now, log: silentLogger, maxAttempts: 5, maxFinished: 100, store: taskStore, storeRetryMs,
    agents: {
      claimable: (id) => (fleet.get(id)?.peer ? fleet.get(id)!.labels : null),
      goneSince: (id) => {
        const rec = fleet.get(id)
        return rec === undefined ? undefined : rec.peer ? null : rec.last_seen
      },
    },
  })
  const tasks: ClusterTasks = new ClusterTasks({
    store, immediate: immediate ? store : undefined, nudgeAll: async () => tasks.nudge(), lease: { valid: true }, holds: () => true,
    fleet, changes, log: silentLogger, acceptTimeoutMs: 60_000, onOverdue: () => {},
  })
  closers.push(() => tasks.close(), () => fleet.close(), () => store.close())
  let n = 0
  const create = async (input: unknown) => {
    const task = await store.insert({ task_id: `t${++n}`, input, pinned: null, timeout_ms: 60_000, extras: TASK_EXTRAS_DEFAULTS })
    await tasks.announce()
    return task.task_id
  }
  const agent = (agentId: string) => {
    const frames: HubMessage[] = []
    const peer: Peer = { send: (frame) => frames.push(frame), close: () => {} }
    fleet.identify(agentId, peer, { pm2_info: null, supervised: true, instance_id: null })
    const rec = fleet.get(agentId)!
    tasks.identified(rec, null)
    /** The first frame of `type` not taken yet (an ack may come after the next assignment). */
    const taken = new Set<number>()
    const next = async (type: HubMessage['type']) => {
      const at = await waitFor(() => frames.findIndex((f, i) => !taken.has(i) && f.type === type), (i) => i >= 0, { what: type, timeoutMs: 5000 })
      taken.add(at)
      return frames[at] as HubMessage & { task_id: string }
    }
    return { rec, next, sent: (type: HubMessage['type']) => frames.filter((f) => f.type === type).length }
  }
  return { store, tasks, create, agent }
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
    const saves = heldSaves()
    const hub = startHub(true, saves.taskStore, 20)
    const a = hub.agent('a')
    const created = hub.create(null)
    await saves.release()
    const taskId = await created
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(hub.store.peek(taskId)?.status).toBe('assigned')
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
