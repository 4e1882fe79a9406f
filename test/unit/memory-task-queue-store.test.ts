/**
 * One hub's TaskQueueStore (hub/tasks/memory-task-queue-store.ts) through the one store suite
 * (support/task-queue-store-conformance.ts) that the cluster's runs too (test/pg/task-queue-store.test.ts),
 * on a real task file in a temporary data dir; then what only it has: a hub started again on the
 * data dir restores what was answered, and no operation answers before its change is on disk.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { TASKS_FILE } from '../../hub/config/config.ts'
import { nodeStateFiles } from '../../hub/node/platform.ts'
import { StorageUnavailable } from '../../hub/store/persister.ts'
import { MemoryTaskQueueStore, type TaskAgents } from '../../hub/tasks/memory-task-queue-store.ts'
import { TASK_EXTRAS_DEFAULTS } from '../../hub/tasks/rules.ts'
import { createFileTaskStore, type StoredTask, type TaskStore } from '../../hub/tasks/task-store.ts'
import { silentLogger } from '../../shared/log.ts'
import { describeTaskQueueStore } from '../../support/task-queue-store-conformance.ts'

const dirs: string[] = []
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))
const stores: MemoryTaskQueueStore[] = []
afterAll(() => stores.forEach((s) => s.close()))

async function taskFile(): Promise<TaskStore> {
  const dir = await mkdtemp(join(tmpdir(), 'agentcom-task-queue-'))
  dirs.push(dir)
  return createFileTaskStore(join(dir, TASKS_FILE), nodeStateFiles, silentLogger)
}

/** Agents as the fleet tells them: connected with labels, or gone since a time. */
function fleetAgents() {
  const agents = new Map<string, { labels: readonly string[]; goneSince: number | null }>()
  const seam: TaskAgents = {
    claimable: (id) => {
      const agent = agents.get(id)
      return agent && agent.goneSince === null ? agent.labels : null
    },
    goneSince: (id) => agents.get(id)?.goneSince,
  }
  return { agents, seam }
}

function open(store: TaskStore | null, agents: TaskAgents, o: { maxAttempts?: number; maxQueuedTasks?: number } = {}) {
  const opened = new MemoryTaskQueueStore({
    now: Date.now, log: silentLogger, agents, maxAttempts: o.maxAttempts ?? 5, maxQueuedTasks: o.maxQueuedTasks,
    maxFinished: 1000, store, storeRetryMs: 60_000,
  })
  stores.push(opened)
  return opened
}

const request = (taskId: string) => ({ task_id: taskId, input: { n: taskId }, pinned: null, timeout_ms: 60_000, extras: TASK_EXTRAS_DEFAULTS })

describeTaskQueueStore('memory', {
  async fresh(o) {
    const { agents, seam } = fleetAgents()
    return {
      store: open(await taskFile(), seam, o),
      async connect(agentId, labels = []) {
        agents.set(agentId, { labels, goneSince: null })
      },
      async disconnect(agentId) {
        agents.set(agentId, { labels: [], goneSince: Date.now() })
      },
    }
  },
})

describe('memory task queue store: the data dir', () => {
  it('a store opened again on the file holds what the first answered: queued, in flight on its agent, finished', async () => {
    const file = await taskFile()
    const { agents, seam } = fleetAgents()
    agents.set('a', { labels: [], goneSince: null })
    agents.set('b', { labels: [], goneSince: null })
    const first = open(file, seam)
    for (const id of ['t1', 't2', 't3']) await first.insert(request(id))
    await first.claim(['a'])
    await first.complete('t1', 'a', { ok: true, result: 'done' })
    await first.claim(['b'])
    first.close()

    const again = open(file, seam)
    again.restore(await file.load())
    expect(await again.get('t1')).toMatchObject({ status: 'completed', result: 'done' })
    expect((await again.heldBy('b')).map((t) => t.task_id)).toEqual(['t2'])
    // Its agent, back, may report it: the store knows whose it was.
    expect(await again.adopt('t2', 'b')).toBe(true)
    expect((await again.claim(['a'])).tasks.map((t) => t.task_id)).toEqual(['t3'])
  })

  it('answers an operation only once its change is saved; an insert that cannot be saved is gone', async () => {
    let release: () => void = () => {}
    let fail = false
    const saved: StoredTask[][] = []
    const gated: TaskStore = {
      load: async () => [],
      save: (tasks) => new Promise<void>((resolve, reject) => {
        release = () => (fail ? reject(new Error('disk full')) : (saved.push(structuredClone(tasks)), resolve()))
      }),
    }
    const store = open(gated, fleetAgents().seam)
    let answered = false
    const inserted = store.insert(request('t1')).then(() => (answered = true))
    await new Promise((resolve) => setImmediate(resolve))
    expect(answered).toBe(false)
    release()
    await inserted
    expect(saved.at(-1)?.map((t) => t.task_id)).toEqual(['t1'])

    fail = true
    const refused = store.insert(request('t2'))
    await new Promise((resolve) => setImmediate(resolve))
    release()
    await expect(refused).rejects.toBeInstanceOf(StorageUnavailable)
    expect(store.queuedCount).toBe(1)
    fail = false
    const read = store.get('t2')
    await new Promise((resolve) => setImmediate(resolve))
    release()
    expect(await read).toBeNull()
  })

  it('lists at once (GET /api/admin/tasks on one hub): the page list() answers once saved, changes not yet saved included', async () => {
    const { agents, seam } = fleetAgents()
    agents.set('a', { labels: [], goneSince: null })
    const store = open(await taskFile(), seam)
    for (const id of ['t1', 't2', 't3']) await store.insert(request(id))
    store.claimNow(['a'])
    store.cancelNow('t2')
    const now = store.listNow({ limit: 2 })
    expect(now.tasks.map((t) => [t.task_id, t.status])).toEqual([['t3', 'queued'], ['t2', 'cancelled']])
    expect(await store.list({ limit: 2 })).toEqual({ tasks: now.tasks.map((t) => ({ ...t })), next_cursor: now.next_cursor })
    const rest = store.listNow({ limit: 2, cursor: now.next_cursor! })
    expect(rest).toEqual({ tasks: [expect.objectContaining({ task_id: 't1', status: 'assigned', agent_id: 'a' })], next_cursor: null })
    expect(store.listNow({ limit: 10, status: 'cancelled' }).tasks.map((t) => t.task_id)).toEqual(['t2'])
  })
})
