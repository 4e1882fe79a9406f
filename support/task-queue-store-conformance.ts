/**
 * One suite for every TaskQueueStore (hub/tasks/task-queue-store.ts): one hub's memory saved to
 * the data dir (test/unit/memory-task-queue-store.test.ts) and the cluster's rows
 * (test/pg/task-queue-store.test.ts) run the same cases, so the two cannot drift: claim order,
 * pins and labels, one task per agent, accepts and outcomes only from the task's agent, a failed
 * run's retry after its delay, requeues counted or not, adoption, cancels, overdue and orphaned tasks, the
 * queue cap, retention and the admin's list. Deadlines are real time (the database's clock
 * cannot be faked), kept short and awaited by polling the store, never slept out.
 */
import { describe, expect, it } from 'vitest'
import { QueueFull } from '../hub/security/queue-cap.ts'
import type { KeptTask, NewTaskRequest, TaskQueueStore } from '../hub/tasks/task-queue-store.ts'
import { TASK_EXTRAS_DEFAULTS, type TaskExtras } from '../hub/tasks/rules.ts'
import { waitFor } from './wait.ts'

export interface StoreUnderTest {
  store: TaskQueueStore<KeptTask>
  /** The agent connects where the store's claims are made, carrying `labels`. */
  connect(agentId: string, labels?: string[]): Promise<void>
  /** The agent's connection closes. */
  disconnect(agentId: string): Promise<void>
}

export interface TaskQueueStoreFactory {
  /** An empty store of its own (its place cleaned up by the caller's hooks). */
  fresh(o: { maxAttempts: number; maxQueuedTasks?: number }): Promise<StoreUnderTest>
}

const LONG_MS = 60_000

function request(taskId: string, o: { pinned?: string; timeoutMs?: number; extras?: Partial<TaskExtras> } = {}): NewTaskRequest {
  return {
    task_id: taskId, input: { n: taskId }, pinned: o.pinned ?? null, timeout_ms: o.timeoutMs ?? LONG_MS,
    extras: { ...TASK_EXTRAS_DEFAULTS, ...o.extras },
  }
}

const ids = (tasks: readonly KeptTask[]) => tasks.map((t) => t.task_id)
const claimed = (r: { tasks: KeptTask[] }) => r.tasks.map((t) => [t.task_id, t.agent_id])

export function describeTaskQueueStore(name: string, factory: TaskQueueStoreFactory): void {
  describe(`task queue store: ${name}`, () => {
    const fresh = (o: { maxAttempts?: number; maxQueuedTasks?: number } = {}) => factory.fresh({ maxAttempts: 5, ...o })

    it('inserts a task queued, with its pin and extras, and answers it by id', async () => {
      const { store } = await fresh()
      const added = await store.insert(request('t1', { pinned: 'a', extras: { labels: ['gpu'], retries: 2, retry_delay_ms: 10 } }))
      const expected = {
        task_id: 't1', status: 'queued', input: { n: 't1' }, pinned: 'a', agent_id: 'a', attempts: 0, result: null, error: null,
        timeout_ms: LONG_MS, assigned_at: null, labels: ['gpu'], retries: 2, retry_delay_ms: 10, retried: 0, run_after: null,
      }
      expect(added).toMatchObject(expected)
      expect(await store.get('t1')).toMatchObject(expected)
      expect(await store.get('nope')).toBeNull()
    })

    it('claims the oldest each agent may run, to the first agent given that may: pins and labels kept, one task per agent', async () => {
      const { store, connect } = await fresh()
      await connect('a')
      await connect('b')
      await connect('c', ['gpu', 'zone=x'])
      await store.insert(request('t1', { pinned: 'b' }))
      await store.insert(request('t2', { extras: { labels: ['gpu'] } }))
      await store.insert(request('t3'))
      await store.insert(request('t4'))
      const first = await store.claim(['a', 'b', 'c'])
      expect(claimed(first)).toEqual([['t1', 'b'], ['t2', 'c'], ['t3', 'a']])
      expect(first.tasks[0]).toMatchObject({ status: 'assigned', attempts: 1, run_after: null })
      expect(first.tasks[0].assigned_at).not.toBeNull()
      expect(first.moreQueued).toBe(true)
      // Every one of them holds a task now: none is given a second.
      expect(claimed(await store.claim(['a', 'b', 'c']))).toEqual([])
      expect(await store.get('t4')).toMatchObject({ status: 'queued', attempts: 0 })
    })

    it('gives a labelled task only to an agent with every label, and a pinned one only to its agent', async () => {
      const { store, connect } = await fresh()
      await connect('a', ['gpu'])
      await connect('b')
      await store.insert(request('t1', { extras: { labels: ['gpu', 'zone=x'] } }))
      await store.insert(request('t2', { pinned: 'z' }))
      expect(claimed(await store.claim(['a', 'b']))).toEqual([])
      await connect('c', ['zone=x', 'gpu', 'more'])
      const last = await store.claim(['a', 'b', 'c'])
      expect(claimed(last)).toEqual([['t1', 'c']])
      expect(last.moreQueued).toBe(true)
    })

    it('gives nothing to an agent that is not connected', async () => {
      const { store, connect, disconnect } = await fresh()
      await store.insert(request('t1'))
      expect(claimed(await store.claim(['a']))).toEqual([])
      await connect('a')
      await disconnect('a')
      expect(claimed(await store.claim(['a']))).toEqual([])
      await connect('a')
      expect(claimed(await store.claim(['a']))).toEqual([['t1', 'a']])
    })

    it('takes an accept and an outcome only from the task\'s agent, once', async () => {
      const { store, connect } = await fresh()
      await connect('a')
      await connect('b')
      await store.insert(request('t1'))
      await store.claim(['a'])
      expect(await store.start('t1', 'b')).toBeNull()
      expect(await store.start('t1', 'a')).toMatchObject({ task_id: 't1', status: 'working', agent_id: 'a' })
      expect(await store.start('t1', 'a')).toBeNull()
      expect((await store.complete('t1', 'b', { ok: true, result: 'other' })).task).toBeNull()
      const done = await store.complete('t1', 'a', { ok: true, result: { out: 1 } })
      expect(done.task).toMatchObject({ status: 'completed', agent_id: 'a', attempts: 1, result: { out: 1 }, error: null })
      expect((await store.complete('t1', 'a', { ok: false, error: 'late' })).task).toBeNull()
      expect(await store.get('t1')).toMatchObject({ status: 'completed', result: { out: 1 } })
      // Free again: its next task.
      await store.insert(request('t2'))
      expect(claimed(await store.claim(['a']))).toEqual([['t2', 'a']])
    })

    it('queues a failed run with retries left again after its delay; then fails it', async () => {
      const { store, connect } = await fresh()
      await connect('a')
      await store.insert(request('t1', { extras: { retries: 1, retry_delay_ms: 300 } }))
      await store.claim(['a'])
      const failed = await store.complete('t1', 'a', { ok: false, error: 'boom' })
      expect(failed.task).toMatchObject({ status: 'queued', agent_id: null, retried: 1, error: 'boom', attempts: 1, assigned_at: null })
      expect(failed.task!.run_after).not.toBeNull()
      // A resend of the failure that queued it changes nothing.
      expect((await store.complete('t1', 'a', { ok: false, error: 'boom' })).task).toBeNull()
      expect(await store.adopt('t1', 'a')).toBe(false)
      expect(claimed(await store.claim(['a']))).toEqual([])
      const again = await waitFor(() => store.claim(['a']), (r) => r.tasks.length > 0, { what: 'the retry claimable after its delay' })
      expect(again.tasks[0]).toMatchObject({ task_id: 't1', attempts: 2, run_after: null })
      const over = await store.complete('t1', 'a', { ok: false, error: 'boom again' })
      expect(over.task).toMatchObject({ status: 'failed', agent_id: 'a', retried: 1, error: 'boom again', run_after: null })
    })

    it('requeues a task from its agent only, counted or not, ahead of newer tasks; fails it after its attempts', async () => {
      const { store, connect } = await fresh({ maxAttempts: 2 })
      await connect('a')
      await connect('b')
      await store.insert(request('t1'))
      await store.insert(request('t2'))
      await store.claim(['a'])
      expect(await store.requeue('t1', 'b', true)).toBeNull()
      expect(await store.requeue('t1', 'a', false)).toMatchObject({ status: 'queued', attempts: 0, agent_id: null, assigned_at: null })
      expect(await store.requeue('t1', 'a', true)).toBeNull()
      expect(claimed(await store.claim(['b']))).toEqual([['t1', 'b']])
      expect(await store.requeue('t1', 'b', true)).toMatchObject({ status: 'queued', attempts: 1 })
      const last = await store.claim(['a'])
      expect(last.tasks[0]).toMatchObject({ task_id: 't1', attempts: 2 })
      expect(await store.requeue('t1', 'a', true)).toMatchObject({ status: 'failed', attempts: 2, agent_id: 'a', error: 'interrupted 2 times' })
      // A pinned task goes back to its agent only.
      await store.insert(request('t3', { pinned: 'b' }))
      expect(claimed(await store.claim(['a', 'b']))).toEqual([['t2', 'a'], ['t3', 'b']])
      expect(await store.requeue('t3', 'b', true)).toMatchObject({ status: 'queued', agent_id: 'b', pinned: 'b' })
    })

    it('lets the agent that still holds a task keep it, or take it back once queued again; no one else', async () => {
      const { store, connect } = await fresh()
      await connect('a')
      await connect('b')
      await store.insert(request('t1'))
      await store.insert(request('t2'))
      await store.claim(['a'])
      expect(await store.adopt('t1', 'b')).toBe(false)
      expect(await store.adopt('t1', 'a')).toBe(true)
      expect(await store.get('t1')).toMatchObject({ status: 'working', agent_id: 'a' })
      await store.requeue('t1', 'a', true)
      expect(await store.adopt('t1', 'b')).toBe(false)
      expect(await store.adopt('t1', 'a')).toBe(true)
      expect(await store.get('t1')).toMatchObject({ status: 'working', agent_id: 'a', attempts: 1 })
      expect(ids(await store.heldBy('a'))).toEqual(['t1'])
      // Queued again and not yet taken: the outcome of the agent it was last given to counts.
      await store.requeue('t1', 'a', true)
      expect((await store.complete('t1', 'b', { ok: true, result: 1 })).task).toBeNull()
      expect((await store.complete('t1', 'a', { ok: true, result: 2 })).task).toMatchObject({ status: 'completed', agent_id: 'a', result: 2 })
      expect(claimed(await store.claim(['a', 'b']))).toEqual([['t2', 'a']])
      expect(ids(await store.heldBy('a'))).toEqual(['t2'])
      expect(await store.heldBy('b')).toEqual([])
    })

    it('finds tasks past their deadline and the grace, oldest deadline first', async () => {
      const { store, connect } = await fresh()
      await connect('a')
      await connect('b')
      await store.insert(request('t1', { timeoutMs: 600 }))
      await store.insert(request('t2', { timeoutMs: 100 }))
      await store.insert(request('t3'))
      await store.claim(['a'])
      await store.claim(['b'])
      expect(await store.overdue(LONG_MS)).toEqual([])
      const late = await waitFor(() => store.overdue(0), (tasks) => tasks.length === 2, { what: 'two overdue tasks' })
      expect(ids(late)).toEqual(['t2', 't1'])
      expect(await store.overdue(LONG_MS)).toEqual([])
    })

    it('finds tasks whose agent has had no connection past the grace', async () => {
      const { store, connect, disconnect } = await fresh()
      await connect('a')
      await connect('b')
      await store.insert(request('t1'))
      await store.insert(request('t2'))
      await store.claim(['a', 'b'])
      await disconnect('a')
      expect(await store.orphaned(LONG_MS)).toEqual([])
      const lost = await waitFor(() => store.orphaned(50), (tasks) => tasks.length > 0, { what: 'an orphaned task' })
      expect(ids(lost)).toEqual(['t1'])
      await connect('a')
      expect(await store.orphaned(0)).toEqual([])
    })

    it('refuses a task past the queue cap, with nothing inserted', async () => {
      const { store, connect } = await fresh({ maxQueuedTasks: 2 })
      await store.insert(request('t1'))
      await store.insert(request('t2'))
      await expect(store.insert(request('t3'))).rejects.toBeInstanceOf(QueueFull)
      expect(await store.get('t3')).toBeNull()
      await connect('a')
      await store.claim(['a'])
      expect(await store.insert(request('t3'))).toMatchObject({ status: 'queued' })
    })

    it('cancels a queued or in-flight task once; its agent\'s reports no longer change it; a finished one stays', async () => {
      const { store, connect } = await fresh()
      await connect('a')
      for (const id of ['t1', 't2', 't3']) await store.insert(request(id))
      await store.claim(['a'])
      expect(await store.cancel('t2')).toMatchObject({ was: 'queued', task: { task_id: 't2', status: 'cancelled', run_after: null } })
      expect(await store.cancel('t1')).toMatchObject({ was: 'assigned', task: { task_id: 't1', status: 'cancelled', agent_id: 'a' } })
      expect(await store.cancel('t1')).toBeNull()
      expect(await store.cancel('nope')).toBeNull()
      expect(await store.start('t1', 'a')).toBeNull()
      expect((await store.complete('t1', 'a', { ok: true, result: 'late' })).task).toBeNull()
      expect(await store.requeue('t1', 'a', true)).toBeNull()
      expect(await store.adopt('t1', 'a')).toBe(false)
      expect(await store.heldBy('a')).toEqual([])
      expect(await store.get('t1')).toMatchObject({ status: 'cancelled', result: null })
      // The agent holds nothing now, and a cancelled queued task is given to no one.
      expect(claimed(await store.claim(['a']))).toEqual([['t3', 'a']])
      await store.start('t3', 'a')
      expect(await store.cancel('t3')).toMatchObject({ was: 'working' })
      await store.insert(request('t4'))
      await store.claim(['a'])
      await store.complete('t4', 'a', { ok: true, result: 4 })
      expect(await store.cancel('t4')).toBeNull()
      expect(await store.get('t4')).toMatchObject({ status: 'completed', result: 4 })
      expect(ids((await store.list({ limit: 100, status: 'cancelled' })).tasks)).toEqual(['t3', 't2', 't1'])
    })

    it('lists tasks newest first, by status and agent, in pages to the end', async () => {
      const { store, connect } = await fresh()
      await connect('a')
      for (let n = 1; n <= 5; n++) await store.insert(request(`t${n}`))
      await store.claim(['a'])
      const all: string[] = []
      let cursor: string | undefined
      for (let pages = 1; ; pages++) {
        const page = await store.list({ limit: 2, cursor })
        all.push(...ids(page.tasks))
        if (page.next_cursor === null) {
          expect(pages).toBe(3)
          break
        }
        cursor = page.next_cursor
      }
      expect(all).toEqual(['t5', 't4', 't3', 't2', 't1'])
      expect(ids((await store.list({ limit: 100, status: 'queued' })).tasks)).toEqual(['t5', 't4', 't3', 't2'])
      const mine = await store.list({ limit: 100, agent_id: 'a' })
      expect(mine).toEqual({ tasks: [expect.objectContaining({ task_id: 't1', status: 'assigned' })], next_cursor: null })
      expect(await store.list({ limit: 1, status: 'completed' })).toEqual({ tasks: [], next_cursor: null })
      // Exactly a page left: no cursor to an empty one.
      expect((await store.list({ limit: 5 })).next_cursor).toBeNull()
    })

    it('forgets finished tasks past the newest kept, and nothing unfinished', async () => {
      const { store, connect } = await fresh()
      await connect('a')
      for (const id of ['t1', 't2', 't3']) {
        await store.insert(request(id))
        await store.claim(['a'])
        await store.complete(id, 'a', { ok: true, result: id })
      }
      await store.insert(request('t4'))
      expect(await store.prune(1)).toBe(2)
      expect(await store.get('t1')).toBeNull()
      expect(await store.get('t2')).toBeNull()
      expect(await store.get('t3')).toMatchObject({ status: 'completed' })
      expect(await store.get('t4')).toMatchObject({ status: 'queued' })
      expect(await store.prune(1)).toBe(0)
    })
  })
}
