/**
 * One hub's task engine (hub/tasks/task-engine.ts) over its memory store
 * (hub/tasks/memory-task-queue-store.ts), for test/unit/task-engine-memory*.test.ts, with the
 * seams one hub needs: the cluster's claim path (hub/cluster/claim-loop.ts) with a lease that
 * always holds, the nudge to every hub calls this engine, every agent is held here. A real Fleet;
 * the agent is a peer that records the frames the hub sends it. `startHub(immediate)` builds one,
 * through the claim loop and the store's awaited operations (as in a cluster) or through the fast
 * path over the store's immediate operations (hub/tasks/immediate-reports.ts), as one hub would;
 * `useMemoryTaskEngine()` registers the hook that closes, after each test, what it started (and
 * whatever a test adds to `closers`).
 */
import { afterEach, expect } from 'vitest'
import { Fleet, type FleetRestarts, type Peer } from '../hub/agents/fleet.ts'
import { TaskEngine } from '../hub/tasks/task-engine.ts'
import { clusterClaimPath } from '../hub/cluster/claim-loop.ts'
import { ChangeFeed } from '../hub/events/changes.ts'
import { MemoryTaskQueueStore } from '../hub/tasks/memory-task-queue-store.ts'
import { TASK_EXTRAS_DEFAULTS } from '../hub/tasks/rules.ts'
import type { TaskStore } from '../hub/tasks/task-store.ts'
import type { HubMessage } from '../shared/protocol.ts'
import { silentLogger } from '../shared/log.ts'
import { systemClock } from '../shared/time.ts'
import { waitFor } from './wait.ts'
import type { OverdueTask } from '../hub/tasks/overdue.ts'

/** No restarts in these tests: the fleet's restart engine answers nothing. */
const NO_RESTARTS: FleetRestarts = {
  identified: () => {}, disconnected: () => {}, restarting: () => {}, taskStarted: () => {}, released: () => {},
  watches: () => false, commandNow: () => ({ ok: false, error: 'agent_not_found' }) as never, restored: () => {}, forgotten: () => {},
}

/** Closed after each test, in order. */
export const closers: Array<() => void> = []

export function useMemoryTaskEngine(): void {
  afterEach(() => closers.splice(0).forEach((close) => close()))
}

export function startHub(
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
export async function assignedUnsaved() {
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
