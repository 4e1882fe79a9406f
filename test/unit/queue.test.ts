import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createLogger, silentLogger } from '../../shared/log.ts'
import { parseQueueFile, TaskQueue, type ActiveTask } from '../../sidecar/queue.ts'

const TASK = { task_id: 'task-1', input: { prompt: 'hi' }, timeout_ms: 60_000, accepted_at: 1_700_000_000_000 }

let dir: string
let path: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agentcom-queue-'))
  path = join(dir, 'sidecar-a.queue.json')
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** The file on disk, which must always be valid JSON. */
async function onDisk(): Promise<unknown> {
  return JSON.parse(await readFile(path, 'utf8'))
}

/** Simulates a crash and restart: a new TaskQueue on the same file. */
const reopen = () => TaskQueue.open(path, silentLogger)

describe('TaskQueue', () => {
  it('opens empty when there is no file, without creating one', async () => {
    const queue = await TaskQueue.open(join(dir, 'nested', 'q.json'), silentLogger)
    expect(queue.active).toBeNull()
    expect(queue.busy).toBe(false)
    expect(queue.running).toBe(false)
    expect(await readdir(join(dir, 'nested'))).toEqual([])
  })

  it('round-trips begin, finish and clear through a restart', async () => {
    const queue = await reopen()
    await queue.begin(TASK)
    expect(queue.running).toBe(true)
    expect(await onDisk()).toEqual({ version: 1, active: { ...TASK, outcome: null } })
    const afterBegin = await reopen()
    expect(afterBegin.active).toEqual({ ...TASK, outcome: null })
    expect(afterBegin.running).toBe(true)

    await queue.finish({ kind: 'complete', result: { answer: 42 } })
    expect(queue.running).toBe(false)
    expect(queue.busy).toBe(true)
    const finished = { ...TASK, outcome: { kind: 'complete', result: { answer: 42 } } }
    expect(await onDisk()).toEqual({ version: 1, active: finished })
    const afterFinish = await reopen()
    expect(afterFinish.active).toEqual(finished)
    expect(afterFinish.busy).toBe(true)
    expect(afterFinish.running).toBe(false)

    await queue.clear()
    expect(await onDisk()).toEqual({ version: 1, active: null })
    const afterClear = await reopen()
    expect(afterClear.active).toBeNull()
    expect(afterClear.busy).toBe(false)

    expect(await readdir(dir)).toEqual(['sidecar-a.queue.json'])
  })

  it.each([
    { kind: 'failed', error: 'exit code 1: boom' } as const,
    { kind: 'interrupted', reason: 'sidecar restarted' } as const,
  ])('keeps a $kind outcome across a restart', async (outcome) => {
    const queue = await reopen()
    await queue.begin(TASK)
    await queue.finish(outcome)
    expect((await reopen()).active?.outcome).toEqual(outcome)
  })

  it('ignores finish without an active task', async () => {
    const queue = await reopen()
    await queue.finish({ kind: 'failed', error: 'late' })
    expect(queue.active).toBeNull()
    await expect(readFile(path, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('writes the file owner-only', async () => {
    const queue = await reopen()
    await queue.begin(TASK)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
  })

  it('leaves the last state on disk after concurrent finish and clear', async () => {
    const queue = await reopen()
    await queue.begin(TASK)
    await Promise.all([queue.finish({ kind: 'complete', result: 1 }), queue.clear()])
    expect(await onDisk()).toEqual({ version: 1, active: null })
    expect((await reopen()).active).toBeNull()
    expect(await readdir(dir)).toEqual(['sidecar-a.queue.json'])
  })

  it('leaves the last state on disk after a burst of unawaited writes', async () => {
    const queue = await reopen()
    await queue.begin(TASK)
    const writes: Promise<void>[] = []
    for (let i = 0; i < 20; i++) writes.push(queue.finish({ kind: 'complete', result: i }))
    await Promise.all(writes)
    expect(await onDisk()).toEqual({ version: 1, active: { ...TASK, outcome: { kind: 'complete', result: 19 } } })
    expect(await readdir(dir)).toEqual(['sidecar-a.queue.json'])
  })

  it('takes a task only once it is on disk: a failed write throws and changes nothing', async () => {
    const queue = await reopen()
    // As root too: the directory replaced by a file makes every write fail.
    await rm(dir, { recursive: true })
    await writeFile(dir, 'not a directory')
    const beginning = queue.begin(TASK)
    expect(queue.busy).toBe(true) // taken while it is written: a second task is refused meanwhile
    await expect(queue.begin({ ...TASK, task_id: 'task-2' })).rejects.toThrow('the queue already holds a task')
    await expect(beginning).rejects.toThrow(/ENOTDIR/)
    expect([queue.active, queue.busy]).toEqual([null, false])
    await rm(dir)
    await mkdir(dir)
    await queue.begin(TASK)
    expect(await onDisk()).toEqual({ version: 1, active: { ...TASK, outcome: null } })
  })

  it('sets a truncated file aside and opens empty, with an error log line', async () => {
    const valid = JSON.stringify({ version: 1, active: { ...TASK, outcome: null } })
    const half = valid.slice(0, Math.floor(valid.length / 2))
    await writeFile(path, half)
    const lines: string[] = []
    const queue = await TaskQueue.open(path, createLogger('test', (line) => lines.push(line)), () => 1234)

    expect(queue.active).toBeNull()
    const aside = `${path}.corrupt-1234`
    expect(await readFile(aside, 'utf8')).toBe(half)
    expect((await readdir(dir)).sort()).toEqual(['sidecar-a.queue.json.corrupt-1234'])
    expect(lines.map((line) => JSON.parse(line))).toEqual([{
      time: expect.any(String), level: 'error', component: 'test',
      msg: 'queue file is corrupt; set aside, starting empty',
      path, moved_to: aside, bytes: half.length,
    }])

    // The queue works normally afterwards.
    await queue.begin(TASK)
    expect((await reopen()).active).toEqual({ ...TASK, outcome: null })
  })

  it('ignores and replaces a temporary file left by a crash mid-write', async () => {
    await writeFile(path, JSON.stringify({ version: 1, active: null }))
    await writeFile(`${path}.tmp`, '{"version":1,"act')
    const queue = await reopen()
    expect(queue.active).toBeNull()
    await queue.begin(TASK)
    expect(await onDisk()).toEqual({ version: 1, active: { ...TASK, outcome: null } })
    expect(await readdir(dir)).toEqual(['sidecar-a.queue.json'])
  })

  it('throws on a read error other than a missing file', async () => {
    await mkdir(path)
    await expect(TaskQueue.open(path, silentLogger)).rejects.toMatchObject({ code: 'EISDIR' })
  })
})

describe('parseQueueFile', () => {
  const active: ActiveTask = { ...TASK, outcome: null }

  it('accepts an empty queue and an active task', () => {
    expect(parseQueueFile('{"version":1,"active":null}')).toEqual({ version: 1, active: null })
    expect(parseQueueFile(JSON.stringify({ version: 1, active }))).toEqual({ version: 1, active })
    const done = { ...active, outcome: { kind: 'complete', result: 'ok' } }
    expect(parseQueueFile(JSON.stringify({ version: 1, active: done }))).toEqual({ version: 1, active: done })
  })

  it.each([
    ['empty text', ''],
    ['garbage', 'not json'],
    ['truncated JSON', '{"version":1,"active":'],
    ['null', 'null'],
    ['a number', '1'],
    ['an array', '[]'],
    ['no version', '{"active":null}'],
    ['version 0', '{"version":0,"active":null}'],
    ['version 2', '{"version":2,"active":null}'],
    ['version "1"', '{"version":"1","active":null}'],
    ['no active key', '{"version":1}'],
    ['active a string', '{"version":1,"active":"task-1"}'],
    ['active an array', '{"version":1,"active":[]}'],
    ['active without task_id', JSON.stringify({ version: 1, active: { ...active, task_id: undefined } })],
    ['active with a numeric task_id', JSON.stringify({ version: 1, active: { ...active, task_id: 1 } })],
    ['active without timeout_ms', JSON.stringify({ version: 1, active: { ...active, timeout_ms: undefined } })],
    ['active without outcome', JSON.stringify({ version: 1, active: { ...TASK } })],
  ])('rejects %s', (_label, text) => {
    expect(parseQueueFile(text)).toBeNull()
  })
})
