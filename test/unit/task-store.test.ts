/** The hub's durable task table: coalesced saves, and the file store on Node's files. */
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Persister, createFileTaskStore, createMemoryTaskStore, type StoredTask, type TaskStore } from '../../hub/task-store.ts'
import { createHub } from '../../hub/app.ts'
import { nodeStateFiles } from '../../hub/node/platform.ts'
import { createLogger, silentLogger } from '../../shared/log.ts'

const task = (task_id: string): StoredTask => ({
  task_id, status: 'queued', input: { n: 1 }, pinned: null, agent_id: null, attempts: 0,
  result: null, error: null, timeout_ms: 1000, created_at: 1, updated_at: 1,
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
    const p = new Persister(store, () => [...table], silentLogger)
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

  it('is durable at once without a store', async () => {
    const p = new Persister(null, () => [], silentLogger)
    p.touch()
    await expect(p.durable()).resolves.toBeUndefined()
  })
})

describe('file task store', () => {
  it('round-trips through an atomic write and leaves no temporary file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agentcom-ts-'))
    const store = createFileTaskStore(join(dir, 'hub-tasks.json'), nodeStateFiles, silentLogger)
    expect(await store.load()).toEqual([])
    await store.save([task('a'), task('b')])
    expect((await store.load()).map((t) => t.task_id)).toEqual(['a', 'b'])
    expect(await readdir(dir)).toEqual(['hub-tasks.json'])
  })

  it('reports a corrupt file and starts empty', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agentcom-ts-'))
    const path = join(dir, 'hub-tasks.json')
    await writeFile(path, '{"version":1,"tasks":[{"task_')
    const lines: string[] = []
    const store = createFileTaskStore(path, nodeStateFiles, createLogger('t', (l) => lines.push(l)))
    expect(await store.load()).toEqual([])
    expect(JSON.parse(lines[0])).toMatchObject({ level: 'error', msg: 'task file is unreadable; starting with no tasks', path })
    expect(await readFile(path, 'utf8')).toBe('{"version":1,"tasks":[{"task_')
  })
})

describe('memory task store', () => {
  it('gives a new hub the tasks the last one saved', async () => {
    const store = createMemoryTaskStore()
    const options = { upgradeWebSocket: (() => {}) as never, secret: 's'.repeat(40), log: silentLogger, taskStore: store }
    const first = createHub(options)
    const task = first.tasks.create({ n: 1 }, null, undefined)
    await first.tasks.durable()
    first.close()
    const second = createHub({ ...options, restoredTasks: await store.load() })
    expect(second.tasks.get(task.task_id)).toMatchObject({ task_id: task.task_id, status: 'queued', input: { n: 1 } })
    second.close()
  })
})
