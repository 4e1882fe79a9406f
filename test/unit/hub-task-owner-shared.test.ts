/**
 * The hub's task owner (hub/tasks/hub-task-owner.ts) over tasks handed in (HubStore.tasks,
 * hub/tasks/shared-tasks.ts), as a cluster's: here a memory store used only through its named
 * operations, with the cluster's claim path (hub/cluster/claim-loop.ts) and a nudge that comes
 * back to this hub, as the bus's would. A real Fleet; the agent is a peer that records frames.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Fleet, type FleetRestarts, type Peer } from '../../hub/agents/fleet.ts'
import { ChangeFeed } from '../../hub/events/changes.ts'
import { HubTaskOwner } from '../../hub/tasks/hub-task-owner.ts'
import { MemoryTaskQueueStore } from '../../hub/tasks/memory-task-queue-store.ts'
import { MemoryTaskOutputs } from '../../hub/tasks/output.ts'
import { TASK_EXTRAS_DEFAULTS } from '../../hub/tasks/rules.ts'
import type { SharedTasks } from '../../hub/tasks/shared-tasks.ts'
import { clusterClaimPath } from '../../hub/cluster/claim-loop.ts'
import type { HubMessage } from '../../shared/protocol.ts'
import { silentLogger } from '../../shared/log.ts'
import { systemClock } from '../../shared/time.ts'
import { waitFor } from '../../support/wait.ts'

const NO_RESTARTS: FleetRestarts = {
  identified: () => {}, disconnected: () => {}, restarting: () => {}, taskStarted: () => {}, released: () => {},
  watches: () => false, commandNow: () => ({ ok: false, error: 'agent_not_found' }) as never, restored: () => {}, forgotten: () => {},
}

const closers: Array<() => void> = []
afterEach(() => closers.splice(0).forEach((close) => close()))

function sharedOwner() {
  const changes = new ChangeFeed()
  const fleet = new Fleet({ clock: systemClock, log: silentLogger, restarts: NO_RESTARTS, offlineTtlMs: 60_000, changes })
  const store = new MemoryTaskQueueStore({
    now: Date.now, log: silentLogger, maxAttempts: 5, maxFinished: 100, store: null, storeRetryMs: 60_000,
    agents: { claimable: (id) => (fleet.get(id)?.peer ? fleet.get(id)!.labels : null), goneSince: () => null },
  })
  let nudges = 0
  const shared: SharedTasks = {
    store, outputs: new MemoryTaskOutputs(Date.now), queuedCount: async () => 42, admin: () => ({}) as never,
    claimPath: clusterClaimPath({ claim: (agents) => store.claim(agents), lease: { valid: true }, fleet, log: silentLogger }),
    nudgeAll: async () => {
      nudges++
      owner.engine.nudge()
    },
  }
  const owner: HubTaskOwner = new HubTaskOwner({
    shared, fleet, changes, log: silentLogger, newId: () => 'unused', now: Date.now, store: null, storeRetryMs: 60_000,
    maxAttempts: 5, maxFinished: 100, defaultTimeoutMs: 60_000, acceptTimeoutMs: 60_000, graceMs: 30_000, onOverdue: () => {},
  })
  closers.push(() => owner.close(), () => fleet.close(), () => store.close())
  const frames: HubMessage[] = []
  const peer: Peer = { send: (frame) => frames.push(frame), close: () => {} }
  fleet.identify('a', peer, { pm2_info: null, supervised: true, instance_id: null })
  const rec = fleet.get('a')!
  owner.identified(rec, null)
  const frame = (type: HubMessage['type']) => waitFor(() => frames.find((f) => f.type === type) as (HubMessage & { task_id: string }) | undefined, (f) => f !== undefined, { what: type })
  return { owner, store, rec, frame, nudges: () => nudges }
}

describe('the hub\'s task owner over shared tasks', () => {
  it('claims through the claim path handed in, stores the outcome there and acknowledges it', async () => {
    const { owner, store, rec, frame } = sharedOwner()
    await store.insert({ task_id: 't1', input: { n: 1 }, pinned: null, timeout_ms: 60_000, extras: TASK_EXTRAS_DEFAULTS })
    await owner.engine.announce()
    expect(await frame('task_assign')).toMatchObject({ task_id: 't1', input: { n: 1 } })
    owner.accepted(rec, 't1')
    owner.finished(rec, 't1', { kind: 'complete', result: 'done' })
    expect(await frame('task_ack')).toEqual({ type: 'task_ack', task_id: 't1' })
    expect(await store.get('t1')).toMatchObject({ status: 'completed', result: 'done', agent_id: 'a' })
  })

  it('counts the queue where the tasks are, and leaves one hub\'s admin surface to one hub', async () => {
    const { owner } = sharedOwner()
    expect(owner.isShared).toBe(true)
    expect(await owner.queuedTasks()).toBe(42)
    await expect(owner.durable()).resolves.toBeUndefined()
    expect(() => owner.create(null, null, undefined)).toThrow(/^one hub's tasks only: a cluster's admin and events read its rows$/)
  })

  it('tells every hub of a task it took back, through the nudge handed in', async () => {
    const { owner, store, rec, frame, nudges } = sharedOwner()
    await store.insert({ task_id: 't2', input: null, pinned: null, timeout_ms: 60_000, extras: TASK_EXTRAS_DEFAULTS })
    await owner.engine.announce()
    await frame('task_assign')
    const before = nudges()
    owner.interrupted(rec, 't2', 'crash')
    await waitFor(() => store.get('t2'), (t) => t?.status === 'assigned' && t.attempts === 2, { what: 't2 given again' })
    expect(nudges()).toBeGreaterThan(before)
  })
})
