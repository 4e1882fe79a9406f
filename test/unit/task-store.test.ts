/** The hub's durable task table: coalesced, honest saves, and the file store on Node's files. */
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createFileTaskStore, createMemoryTaskStore, type StoredTask, type TaskStore } from '../../hub/tasks/task-store.ts'
import { Persister, StorageUnavailable } from '../../hub/store/persister.ts'
import { FinishedTasks } from '../../hub/tasks/task-retention.ts'
import { createTestHub } from '../../support/in-process-hub.ts'
import { nodeStateFiles } from '../../hub/node/platform.ts'
import { signAdminToken } from '../../hub/auth/auth.ts'
import { createLogger, silentLogger } from '../../shared/log.ts'

const task = (task_id: string): StoredTask => ({
  task_id, status: 'queued', input: { n: 1 }, pinned: null, agent_id: null, attempts: 0,
  result: null, error: null, timeout_ms: 1000, created_at: 1, updated_at: 1, assigned_at: null,
})

const persisterOptions = { log: silentLogger, now: () => 1000, retryMs: 1000 }

afterEach(() => {
  vi.useRealTimers()
})

describe('Persister', () => {
  it('coalesces a burst of changes and resolves durable() only after a save that holds them', async () => {
    const saves: string[][] = []
    let release!: () => void
    const store: TaskStore = {
      load: async () => [],
      save: (tasks) => {
        saves.push(tasks.map((t) => t.task_id))
        return new Promise<void>((resolve) => (release = resolve))
      },
    }
    const table: StoredTask[] = []
    const p = new Persister(store, () => [...table], persisterOptions)
    table.push(task('a'))
    p.touch()
    const first = p.durable()
    await Promise.resolve()
    expect(saves).toEqual([['a']])
    for (const id of ['b', 'c', 'd']) {
      table.push(task(id))
      p.touch()
    }
    let secondDone = false
    const second = p.durable().then(() => (secondDone = true))
    release()
    await first
    await Promise.resolve()
    expect(secondDone).toBe(false)
    expect(saves).toEqual([['a'], ['a', 'b', 'c', 'd']])
    release()
    await second
  })

  it('never marks a failed save saved: durable() rejects, health says failing, and it retries on its own', async () => {
    vi.useFakeTimers()
    let broken = true
    const saves: string[][] = []
    const store: TaskStore = {
      load: async () => [],
      save: async (tasks) => {
        saves.push(tasks.map((t) => t.task_id))
        if (broken) throw new Error('ENOSPC: no space left on device')
      },
    }
    const table = [task('a')]
    const lines: string[] = []
    const p = new Persister(store, () => [...table], { ...persisterOptions, log: createLogger('t', (l) => lines.push(l)) })
    p.touch()
    await expect(p.durable()).rejects.toThrow(new StorageUnavailable('Error: ENOSPC: no space left on device'))
    expect(p.health).toEqual({ failing_since: 1000, failed_saves: 1 })
    // Nothing changed since, yet it is tried again every retryMs.
    await vi.advanceTimersByTimeAsync(999)
    expect(saves).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(saves).toHaveLength(2)
    expect(p.health.failed_saves).toBe(2)
    // A change is tried at once, not at the next retry.
    table.push(task('b'))
    p.touch()
    const waiting = p.durable()
    await expect(waiting).rejects.toBeInstanceOf(StorageUnavailable)
    expect(saves).toEqual([['a'], ['a'], ['a', 'b']])
    broken = false
    await vi.advanceTimersByTimeAsync(1000)
    expect(saves.at(-1)).toEqual(['a', 'b'])
    expect(p.health).toEqual({ failing_since: null, failed_saves: 0 })
    await expect(p.durable()).resolves.toBeUndefined()
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['could not save tasks', 'tasks saved again'])
    p.close()
  })

  it('is durable at once without a store', async () => {
    const p = new Persister(null, () => [], persisterOptions)
    p.touch()
    await expect(p.durable()).resolves.toBeUndefined()
  })
})

describe('file task store', () => {
  it('round-trips through an atomic write and leaves no temporary file, only the table and its journal', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agentcom-ts-'))
    const store = createFileTaskStore(join(dir, 'hub-tasks.json'), nodeStateFiles, silentLogger)
    expect(await store.load()).toEqual([])
    await store.save([task('a'), task('b')])
    expect((await store.load()).map((t) => t.task_id)).toEqual(['a', 'b'])
    expect((await readdir(dir)).sort()).toEqual(['hub-tasks.json', 'hub-tasks.json.journal'])
  })

  it.each([
    ['torn JSON', '{"version":1,"tasks":[{"task_'],
    ['another version', '{"version":2,"tasks":[]}'],
    ['tasks not a list', '{"version":1,"tasks":{}}'],
  ])('moves a corrupt file (%s) aside, logs an error and starts empty', async (_name, text) => {
    const dir = await mkdtemp(join(tmpdir(), 'agentcom-ts-'))
    const path = join(dir, 'hub-tasks.json')
    await writeFile(path, text)
    const lines: string[] = []
    const store = createFileTaskStore(path, nodeStateFiles, createLogger('t', (l) => lines.push(l)), () => 42)
    expect(await store.load()).toEqual([])
    expect(JSON.parse(lines[0])).toMatchObject({
      level: 'error', msg: 'task file is corrupt; moved aside, starting with no tasks', path, moved_to: `${path}.corrupt-42`,
    })
    expect(await readdir(dir)).toEqual(['hub-tasks.json.corrupt-42'])
    expect(await readFile(`${path}.corrupt-42`, 'utf8')).toBe(text)
  })

  it('validates every entry: keeps the good ones, drops each bad one with a line, sets a copy aside', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agentcom-ts-'))
    const path = join(dir, 'hub-tasks.json')
    const bad = [
      { ...task('x'), status: 'exploded' },
      { ...task('y'), attempts: -1 },
      { ...task('z'), agent_id: 'no spaces allowed' },
      task('a'), // a second copy of a task id
      'not even an object',
    ]
    const text = JSON.stringify({ version: 1, tasks: [task('a'), ...bad, task('b')] })
    await writeFile(path, text)
    const lines: string[] = []
    const store = createFileTaskStore(path, nodeStateFiles, createLogger('t', (l) => lines.push(l)), () => 7)
    expect((await store.load()).map((t) => t.task_id)).toEqual(['a', 'b'])
    const logged = lines.map((l) => JSON.parse(l))
    expect(logged.filter((l) => l.msg === 'task entry is invalid; dropped').map((l) => [l.index, l.issue.split(':')[0]]))
      .toEqual([[1, 'status'], [2, 'attempts'], [3, 'agent_id'], [4, 'duplicate task_id'], [5, '(entry)']])
    expect(logged.at(-1)).toMatchObject({ level: 'error', copy: `${path}.corrupt-7`, dropped: 5, kept: 2 })
    // The original stays until the next save replaces it; the copy keeps the dropped entries.
    expect(await readFile(path, 'utf8')).toBe(text)
    expect(await readFile(`${path}.corrupt-7`, 'utf8')).toBe(text)
  })
})

describe('memory task store', () => {
  it('gives a new hub the tasks the last one saved', async () => {
    const store = createMemoryTaskStore()
    const options = { secret: 's'.repeat(40), log: silentLogger, taskStore: store }
    const first = createTestHub(options)
    const { task, saved } = first.tasks.create({ n: 1 }, null, undefined)
    expect(await saved).toBe(true)
    first.close()
    const second = createTestHub({ ...options, restoredTasks: await store.load() })
    expect(second.tasks.get(task.task_id)).toMatchObject({ task_id: task.task_id, status: 'queued', input: { n: 1 } })
    second.close()
  })
})

describe('finished tasks kept in memory', () => {
  it('are bounded by count', () => {
    const kept = new FinishedTasks(3, 1_000_000)
    expect(['a', 'b', 'c'].flatMap((id) => kept.add(id, '{}'))).toEqual([])
    expect(kept.add('d', '{}')).toEqual(['a'])
    expect(kept.newest(10)).toEqual(['b', 'c', 'd'])
  })

  it('are bounded by bytes of JSON, oldest forgotten first', () => {
    const kept = new FinishedTasks(1000, 100)
    expect(kept.add('a', 'x'.repeat(40))).toEqual([])
    expect(kept.add('b', 'x'.repeat(40))).toEqual([])
    expect(kept.add('c', 'x'.repeat(40))).toEqual(['a'])
    expect(kept.totalBytes).toBe(80)
    // One larger than the whole budget is kept alone (the newest is always there for GET).
    expect(kept.add('d', '€'.repeat(50))).toEqual(['b', 'c'])
    expect([kept.count, kept.totalBytes]).toEqual([1, 150])
  })
})

describe('a hub whose saves fail', () => {
  it('answers POST /api/admin/tasks 503 storage_unavailable and creates nothing; /health is degraded, then ok on its own', async () => {
    vi.useFakeTimers()
    let broken = true
    const saved: string[][] = []
    const store: TaskStore = {
      load: async () => [],
      save: async (tasks) => {
        if (broken) throw new Error('ENOTDIR: not a directory')
        saved.push(tasks.map((t) => t.task_id))
      },
    }
    const secret = 's'.repeat(40)
    const hub = createTestHub({ secret, log: silentLogger, taskStore: store, newId: () => 'task-1' })
    const headers = { authorization: `Bearer ${await signAdminToken(secret)}`, 'content-type': 'application/json' }
    const published: string[] = []
    hub.changes.on('task', (c) => published.push(c.task_id))
    expect((await hub.app.request('/health')).status).toBe(200)

    const res = await hub.app.request('/api/admin/tasks', { method: 'POST', headers, body: '{"input":{"n":1}}' })
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual({ error: 'storage_unavailable' })
    expect((await hub.app.request('/api/admin/tasks/task-1', { headers })).status).toBe(404)
    expect(hub.tasks.size).toBe(0)
    expect(published).toEqual([])

    const health = await hub.app.request('/health')
    expect(health.status).toBe(503)
    expect(await health.json()).toEqual({ status: 'degraded', storage: 'failing', failing_since: expect.any(Number), failed_saves: expect.any(Number) })

    // The disk comes back; nothing else happens: within a retry (1 s) the hub is ok again.
    broken = false
    await vi.advanceTimersByTimeAsync(1000)
    const again = await hub.app.request('/health')
    expect([again.status, await again.json()]).toEqual([200, { status: 'ok' }])
    // What was saved then does not hold the refused task.
    expect(saved.at(-1)).toEqual([])
    const ok = await hub.app.request('/api/admin/tasks', { method: 'POST', headers, body: '{"input":{"n":2}}' })
    expect(ok.status).toBe(201)
    expect(saved.at(-1)).toEqual(['task-1'])
    hub.close()
  })
})
