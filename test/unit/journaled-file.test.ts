/**
 * The journaled-file owner itself (hub/store/journaled-file.ts) on Node's files, with a toy
 * format (a map of counters; a line `{"k":"a","v":1}` sets one, `{"gone":"a"}` forgets one): a
 * torn last line, a journal older than its snapshot, compaction, a failed append and the
 * snapshot after it, a file that is not a snapshot.
 */
import { appendFile, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { JournaledFile, MIN_COMPACT_BYTES, isRecord, journalPathOf, type JournalFormat } from '../../hub/store/journaled-file.ts'
import type { TaskFiles } from '../../hub/store/state-files.ts'
import { nodeStateFiles } from '../../hub/node/platform.ts'
import { createLogger, silentLogger } from '../../shared/log.ts'

type Counters = Map<string, number>

const FORMAT: JournalFormat<Counters> = {
  corrupt: 'counters file is corrupt; moved aside',
  async decode(json) {
    if (!isRecord(json) || typeof json.generation !== 'number' || !isRecord(json.counters)) return { issue: 'not counters' }
    return { state: new Map(Object.entries(json.counters as Record<string, number>)), generation: json.generation }
  },
  apply(state, entry) {
    if (!isRecord(entry)) return false
    if (typeof entry.gone === 'string') {
      state.delete(entry.gone)
      return true
    }
    if (typeof entry.k !== 'string' || typeof entry.v !== 'number') return false
    state.set(entry.k, entry.v)
    return true
  },
}
const encode = (counters: Record<string, number>) => (generation: number) => JSON.stringify({ generation, counters })
const line = (k: string, v: number) => `${JSON.stringify({ k, v })}\n`

async function freshPath(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'agentcom-journaled-')), 'state.json')
}

/** Node's files, counting snapshots and appends; `fail` makes the next appends write half and throw. */
function disk() {
  const counts = { snapshots: 0, appends: 0 }
  const state = { fail: false }
  const files: TaskFiles = {
    ...nodeStateFiles,
    async writeAtomic(path, text) {
      if (!path.endsWith('.journal')) counts.snapshots++
      return nodeStateFiles.writeAtomic(path, text)
    },
    async append(path, text) {
      counts.appends++
      if (!state.fail) return nodeStateFiles.append(path, text)
      await appendFile(path, text.slice(0, Math.floor(text.length / 2)))
      throw new Error('ENOSPC: no space left on device')
    },
  }
  return { files, counts, state }
}

const logged = () => {
  const lines: { level: string; msg: string; line?: number }[] = []
  return { lines, log: createLogger('test', (l) => lines.push(JSON.parse(l))) }
}

const loadFresh = async (path: string, log = silentLogger) => Object.fromEntries((await new JournaledFile(path, nodeStateFiles, log, 'counters').load(FORMAT)) ?? [])

describe('JournaledFile', () => {
  it('starts with a snapshot, then appends; a load replays the journal over the snapshot in order', async () => {
    const path = await freshPath()
    const { files, counts } = disk()
    const file = new JournaledFile(path, files, silentLogger, 'counters')
    expect(await file.load(FORMAT)).toBeNull()
    await file.save(() => line('a', 1), encode({ a: 1 }))
    expect(counts).toEqual({ snapshots: 1, appends: 0 })
    await file.save(() => line('a', 2) + line('b', 1), encode({}))
    await file.save(() => '{"gone":"a"}\n', encode({}))
    await file.save(() => '', encode({})) // nothing changed: nothing written
    expect(counts).toEqual({ snapshots: 1, appends: 2 })
    expect(await readFile(journalPathOf(path), 'utf8')).toBe(`{"journal":1,"generation":1}\n${line('a', 2)}${line('b', 1)}{"gone":"a"}\n`)
    expect(await loadFresh(path)).toEqual({ b: 1 })
  })

  it('ignores a torn last line; a line that is not JSON before the last ends the replay; an invalid entry is dropped', async () => {
    const path = await freshPath()
    const file = new JournaledFile(path, nodeStateFiles, silentLogger, 'counters')
    await file.load(FORMAT)
    await file.save(() => '', encode({ a: 1 }))
    await file.save(() => line('a', 2), encode({}))
    await appendFile(journalPathOf(path), '{"k":"a","v":')
    const torn = logged()
    expect(await loadFresh(path, torn.log)).toEqual({ a: 2 })
    expect(torn.lines).toEqual([])

    await appendFile(journalPathOf(path), `\n{"k":"x"}\n${line('b', 1)}`)
    const broken = logged()
    expect(await loadFresh(path, broken.log)).toEqual({ a: 2 })
    expect(broken.lines.map((l) => [l.msg, l.line])).toEqual([['counters journal line is not JSON; the rest is not replayed', 3]])

    await writeFile(journalPathOf(path), `{"journal":1,"generation":1}\n{"k":"x"}\n${line('b', 1)}`)
    const invalid = logged()
    expect(await loadFresh(path, invalid.log)).toEqual({ a: 1, b: 1 })
    expect(invalid.lines.map((l) => [l.msg, l.line])).toEqual([['counters journal entry is invalid; dropped', 2]])
  })

  it('never replays a journal older than the snapshot (a crash between a new snapshot and its journal)', async () => {
    const path = await freshPath()
    const file = new JournaledFile(path, nodeStateFiles, silentLogger, 'counters')
    await file.load(FORMAT)
    await file.save(() => '', encode({ a: 1 }))
    await file.save(() => line('a', 2), encode({}))
    const old = await readFile(journalPathOf(path), 'utf8')
    await file.writeSnapshot(encode({ a: 3 }))
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ generation: 2, counters: { a: 3 } })
    await writeFile(journalPathOf(path), old)
    const stale = logged()
    expect(await loadFresh(path, stale.log)).toEqual({ a: 3 })
    expect(stale.lines.map((l) => [l.level, l.msg])).toEqual([['warn', 'counters journal does not follow the snapshot; not replayed']])
  })

  it('compacts: past its bound the next save writes the whole state, without making the lines', async () => {
    const path = await freshPath()
    const { files, counts } = disk()
    const file = new JournaledFile(path, files, silentLogger, 'counters')
    await file.load(FORMAT)
    await file.save(() => '', encode({ a: 0 }))
    const pad = line('a', 1).replace('}', `,"pad":"${'x'.repeat(10_000)}"}`)
    let v = 0
    while ((await readFile(journalPathOf(path), 'utf8')).length <= MIN_COMPACT_BYTES) await file.save(() => pad, encode({ a: ++v }))
    expect(counts.snapshots).toBe(1)
    let made = 0
    await file.save(() => `${made++}`, encode({ a: 99 }))
    expect(made).toBe(0)
    expect(counts.snapshots).toBe(2)
    expect(await readFile(journalPathOf(path), 'utf8')).toBe('{"journal":1,"generation":2}\n')
    expect(await loadFresh(path)).toEqual({ a: 99 })
  })

  it('waits for a few times a large snapshot before compacting', async () => {
    const path = await freshPath()
    const { files, counts } = disk()
    const file = new JournaledFile(path, files, silentLogger, 'counters')
    await file.load(FORMAT)
    const big = encode({ big: 1, ...Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, i])) })
    await file.save(() => '', big)
    const snapshotBytes = (await readFile(path, 'utf8')).length
    expect(snapshotBytes).toBeGreaterThan(MIN_COMPACT_BYTES / 2)
    const pad = line('a', 1).replace('}', `,"pad":"${'x'.repeat(100_000)}"}`)
    while (counts.snapshots === 1 && (await readFile(journalPathOf(path), 'utf8')).length <= 4 * snapshotBytes) await file.save(() => pad, big)
    expect(counts.snapshots).toBe(1) // past MIN_COMPACT_BYTES long ago, but not past 4x the snapshot
    expect(counts.appends).toBe(Math.floor((4 * snapshotBytes - '{"journal":1,"generation":1}\n'.length) / pad.length) + 1)
    await file.save(() => pad, big)
    expect(counts.snapshots).toBe(2)
  })

  it('after an append that failed (half a line written) the next save writes a snapshot, and a load sees no torn line', async () => {
    const path = await freshPath()
    const { files, counts, state } = disk()
    const file = new JournaledFile(path, files, silentLogger, 'counters')
    await file.load(FORMAT)
    await file.save(() => '', encode({ a: 1 }))
    await file.save(() => line('a', 2), encode({}))
    state.fail = true
    await expect(file.save(() => line('b', 1), encode({}))).rejects.toThrow('no space left on device')
    expect(await readFile(journalPathOf(path), 'utf8')).toMatch(/\{"k":"b"$/)
    state.fail = false
    const appends = counts.appends
    await file.save(() => line('c', 1), encode({ a: 2, b: 1, c: 1 }))
    expect(counts.appends).toBe(appends) // not appended after the torn half
    expect(counts.snapshots).toBe(2)
    await file.save(() => line('c', 2), encode({}))
    expect(await loadFresh(path)).toEqual({ a: 2, b: 1, c: 2 })
  })

  it('writes a snapshot first after a load, even when the journal it replayed was whole', async () => {
    const path = await freshPath()
    const { files, counts } = disk()
    const file = new JournaledFile(path, files, silentLogger, 'counters')
    await file.save(() => '', encode({ a: 1 }))
    await file.save(() => line('a', 2), encode({}))
    expect(counts).toEqual({ snapshots: 1, appends: 1 })
    expect(Object.fromEntries((await file.load(FORMAT))!)).toEqual({ a: 2 })
    await file.save(() => line('a', 3), encode({ a: 3 }))
    expect(counts).toEqual({ snapshots: 2, appends: 1 })
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ generation: 2, counters: { a: 3 } })
  })

  it.each([['not JSON', '{"generation":1,"coun'], ['not counters', '{"generation":1}']])(
    'moves a file that is not a snapshot (%s) aside and loads nothing', async (issue, text) => {
      const path = await freshPath()
      await writeFile(path, text)
      const { lines, log } = logged()
      expect(await new JournaledFile(path, nodeStateFiles, log, 'counters', () => 7).load(FORMAT)).toBeNull()
      expect(lines).toEqual([expect.objectContaining({ level: 'error', msg: 'counters file is corrupt; moved aside', moved_to: `${path}.corrupt-7`, issue })])
      expect(await readdir(join(path, '..'))).toEqual(['state.json.corrupt-7'])
    },
  )
})
