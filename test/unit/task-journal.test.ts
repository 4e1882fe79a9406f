/**
 * The task table's journal (hub/tasks/task-journal.ts) on Node's files: a save appends what changed,
 * a load replays it over the snapshot it follows, a torn last line is ignored, a journal of an
 * older generation is never replayed, and past its bound the store writes a snapshot instead.
 */
import { mkdtemp, readFile, writeFile, appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createFileTaskStore, type StoredTask, type TaskFiles } from '../../hub/tasks/task-store.ts'
import { journalLines } from '../../hub/tasks/task-journal.ts'
import { MIN_COMPACT_BYTES, journalPathOf } from '../../hub/store/journaled-file.ts'
import { nodeStateFiles } from '../../hub/node/platform.ts'
import { createLogger, silentLogger } from '../../shared/log.ts'

const task = (task_id: string, status: StoredTask['status'] = 'queued'): StoredTask => ({
  task_id, status, input: { n: 1 }, pinned: null, agent_id: null, attempts: 0,
  result: null, error: null, timeout_ms: 1000, created_at: 1, updated_at: 1, assigned_at: null,
})

async function freshPath(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'agentcom-journal-')), 'hub-tasks.json')
}

/** Node's files, counting what each kind of write was given. */
function countingFiles() {
  const written = { snapshots: 0, appendedBytes: 0 }
  const files: TaskFiles = {
    ...nodeStateFiles,
    async writeAtomic(path, text) {
      if (!path.endsWith('.journal')) written.snapshots++
      return nodeStateFiles.writeAtomic(path, text)
    },
    async append(path, text) {
      written.appendedBytes += text.length
      return nodeStateFiles.append(path, text)
    },
  }
  return { files, written }
}

describe('task journal', () => {
  it('appends only what changed, and a new store loads the snapshot with the changes replayed in order', async () => {
    const path = await freshPath()
    const { files, written } = countingFiles()
    const store = createFileTaskStore(path, files, silentLogger)
    expect(await store.load()).toEqual([])
    const table = [task('a'), task('b'), task('c')]
    await store.saveChanges!(table.map((t) => ({ task: t })), () => table)
    expect(written.snapshots).toBe(1) // no journal yet: the first save starts one
    await store.saveChanges!([{ task: task('b', 'working') }], () => table)
    await store.saveChanges!([{ task: task('d') }, { removed: 'a' }], () => table)
    await store.saveChanges!([{ task: task('b', 'completed') }], () => table)
    expect(written.snapshots).toBe(1)
    expect(written.appendedBytes).toBeLessThan(1000)
    const loaded = await createFileTaskStore(path, nodeStateFiles, silentLogger).load()
    expect(loaded.map((t) => [t.task_id, t.status])).toEqual([['b', 'completed'], ['c', 'queued'], ['d', 'queued']])
  })

  it('writes a change given with its JSON already made exactly as one given without', () => {
    const done = { ...task('a', 'completed'), result: { text: 'é\u2028"' } }
    expect(journalLines([{ task: done, json: JSON.stringify(done) }, { removed: 'b' }])).toBe(journalLines([{ task: done }, { removed: 'b' }]))
    expect(JSON.parse(journalLines([{ task: done }]))).toEqual({ t: done })
  })

  it('ignores a torn last line, and replays nothing from a journal of an older snapshot', async () => {
    const path = await freshPath()
    const store = createFileTaskStore(path, nodeStateFiles, silentLogger)
    await store.load()
    await store.saveChanges!([{ task: task('a') }], () => [task('a')])
    await store.saveChanges!([{ task: task('a', 'working') }], () => [task('a', 'working')])
    await appendFile(journalPathOf(path), '{"t":{"task_id":"torn","sta')
    expect((await createFileTaskStore(path, nodeStateFiles, silentLogger).load()).map((t) => [t.task_id, t.status])).toEqual([['a', 'working']])
    // A crash after a new snapshot and before its journal: the old journal must not undo the snapshot.
    const old = await readFile(journalPathOf(path), 'utf8')
    await store.save([task('a', 'completed')])
    await writeFile(journalPathOf(path), old)
    const lines: any[] = []
    const log = createLogger('test', (line) => lines.push(JSON.parse(line)))
    expect((await createFileTaskStore(path, nodeStateFiles, log).load()).map((t) => [t.task_id, t.status])).toEqual([['a', 'completed']])
    expect(lines.map((l) => l.msg)).toEqual(['task journal does not follow the snapshot; not replayed'])
  })

  it('writes a snapshot instead once the journal outgrows its bound, and after an append that failed', async () => {
    const path = await freshPath()
    const { files, written } = countingFiles()
    let failAppend = false
    const flaky: TaskFiles = { ...files, append: (p, text) => (failAppend ? Promise.reject(new Error('ENOSPC')) : files.append(p, text)) }
    const store = createFileTaskStore(path, flaky, silentLogger)
    await store.load()
    const table = [task('a')]
    await store.saveChanges!([{ task: table[0] }], () => table)
    const big = { ...task('a'), input: { pad: 'x'.repeat(64 * 1024) } }
    const appendsToBound = Math.ceil(MIN_COMPACT_BYTES / (64 * 1024)) + 1
    for (let i = 0; i < appendsToBound; i++) await store.saveChanges!([{ task: big }], () => [big])
    expect(written.snapshots).toBe(2)
    failAppend = true
    await expect(store.saveChanges!([{ task: task('a', 'working') }], () => [task('a', 'working')])).rejects.toThrow('ENOSPC')
    failAppend = false
    await store.saveChanges!([{ task: task('a', 'completed') }], () => [task('a', 'completed')])
    expect(written.snapshots).toBe(3) // the journal's tail was in doubt: the whole table, anew
    expect((await createFileTaskStore(path, nodeStateFiles, silentLogger).load()).map((t) => t.status)).toEqual(['completed'])
  })
})
