/** The output rules alone: the sidecar's pump (frame size, pace, bound) and the hub's memory store. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { BYTES_PER_FLUSH, FLUSH_MS, MAX_PENDING_BYTES, createOutputPump } from '../../sidecar/output-pump.ts'
import { MAX_OUTPUT_BYTES, MemoryTaskOutputs, oldestToDrop } from '../../hub/tasks/output.ts'
import { countsAsAttempt, outcomeVerdict, requeueVerdict, retryDelay, cancelVerdict } from '../../hub/tasks/rules.ts'
import { hasLabels, parseLabelList } from '../../shared/labels.ts'
import { MAX_RESULT_BYTES, RESULT_TOO_LARGE, STORAGE_UNAVAILABLE, type SidecarMessage } from '../../shared/protocol.ts'

type OutputFrame = Extract<SidecarMessage, { type: 'task_output' }>

describe('output pump', () => {
  let sent: OutputFrame[]
  const send = async (m: SidecarMessage) => {
    sent.push(m as OutputFrame)
  }
  beforeEach(() => {
    vi.useFakeTimers()
    sent = []
  })
  afterEach(() => vi.useRealTimers())

  it('sends what was written within one flush interval, merged per stream, in order', async () => {
    const pump = createOutputPump('t1', send)
    pump.write('stdout', Buffer.from('a'))
    pump.write('stdout', Buffer.from('b'))
    pump.write('stderr', Buffer.from('E'))
    pump.write('stdout', Buffer.from('c'))
    expect(sent).toEqual([])
    await vi.advanceTimersByTimeAsync(FLUSH_MS)
    expect(sent.map((f) => [f.stream, f.data])).toEqual([['stdout', 'ab'], ['stderr', 'E'], ['stdout', 'c']])
    await pump.finish()
  })

  it('frames hold at most 16 KiB and never split a character; a flush sends at most its budget', async () => {
    const pump = createOutputPump('t1', send)
    // 3-byte characters: 16 KiB is not a multiple of 3.
    const text = '€'.repeat(80_000)
    pump.write('stdout', Buffer.from(text))
    await vi.advanceTimersByTimeAsync(FLUSH_MS)
    const first = sent.splice(0)
    expect(first.length).toBeGreaterThan(1)
    for (const f of first) expect(Buffer.byteLength(f.data)).toBeLessThanOrEqual(16 * 1024)
    expect(first.reduce((n, f) => n + Buffer.byteLength(f.data), 0)).toBeLessThanOrEqual(BYTES_PER_FLUSH)
    expect(first.every((f) => /^€+$/.test(f.data))).toBe(true)
    await pump.finish()
    expect([...first, ...sent].map((f) => f.data).join('')).toBe(text)
  })

  it('keeps at most MAX_PENDING_BYTES waiting: the oldest goes, and the next frame says how much', async () => {
    const pump = createOutputPump('t1', send)
    const total = MAX_PENDING_BYTES + 1000
    pump.write('stdout', Buffer.alloc(total, 'x'))
    await pump.finish()
    expect(sent[0].dropped).toBe(1000)
    expect(sent.slice(1).every((f) => f.dropped === undefined)).toBe(true)
    expect(sent.reduce((n, f) => n + f.data.length, 0)).toBe(MAX_PENDING_BYTES)
  })

  it('drops whole characters only', async () => {
    const pump = createOutputPump('t1', send)
    pump.write('stdout', Buffer.from('€'.repeat(MAX_PENDING_BYTES / 3 + 10)))
    await pump.finish()
    expect(sent.map((f) => f.data).join('')).toMatch(/^€+$/)
  })

  it('a task printing without end: a bounded pace however much it writes', async () => {
    const pump = createOutputPump('t1', send)
    const writer = setInterval(() => pump.write('stdout', Buffer.alloc(64 * 1024, 'y')), 1)
    await vi.advanceTimersByTimeAsync(1000)
    clearInterval(writer)
    const bytes = sent.reduce((n, f) => n + f.data.length, 0)
    expect(bytes).toBeLessThanOrEqual(BYTES_PER_FLUSH * (1000 / FLUSH_MS))
    expect(sent.length).toBeLessThanOrEqual((1000 / FLUSH_MS) * (BYTES_PER_FLUSH / (16 * 1024)))
    await pump.finish()
  })
})

describe('hub output store (memory)', () => {
  it('keeps the newest 1 MiB per task and marks it truncated', async () => {
    const store = new MemoryTaskOutputs(() => 5)
    for (let i = 0; i < 70; i++) store.append('t', 'stdout', `${i}`.padEnd(16 * 1024, '.'), 0)
    const read = await store.read('t', 0)
    expect(read.truncated).toBe(true)
    expect(read.chunks.length).toBe(MAX_OUTPUT_BYTES / (16 * 1024))
    expect(read.chunks[0].data.startsWith('6.')).toBe(true)
    expect((await store.read('t', read.chunks[62].seq)).chunks.map((c) => c.data[0] + c.data[1])).toEqual(['69'])
  })

  it('bounds all tasks together: the oldest task\'s output goes first', async () => {
    const store = new MemoryTaskOutputs(() => 5, 3 * 1024)
    for (const t of ['a', 'b', 'c', 'd']) store.append(t, 'stdout', 'z'.repeat(1024), 0)
    expect((await store.read('a', 0)).chunks).toEqual([])
    expect((await store.read('d', 0)).chunks.length).toBe(1)
  })

  it('oldestToDrop', () => {
    expect(oldestToDrop([5, 5, 5], 10)).toBe(1)
    expect(oldestToDrop([5, 5], 10)).toBe(0)
    expect(oldestToDrop([20], 10)).toBe(1)
  })
})

describe('task control rules', () => {
  it('retry delay doubles, and stops at the count', () => {
    expect([0, 1, 2, 3].map((retried) => retryDelay({ retries: 3, retry_delay_ms: 1000, retried }))).toEqual([1000, 2000, 4000, null])
    expect(retryDelay({ retries: 0, retry_delay_ms: 1000, retried: 0 })).toBeNull()
  })

  it('a refusal before start is no attempt, but for storage_unavailable; a requeue fails the task at maxAttempts', () => {
    expect(countsAsAttempt('busy', false)).toBe(false)
    expect(countsAsAttempt(STORAGE_UNAVAILABLE, false)).toBe(true)
    expect(countsAsAttempt('restarting', true)).toBe(true)
    const task = { attempts: 5, pinned: 'p', agent_id: 'a', error: null }
    expect(requeueVerdict(task, false, 5)).toEqual({ status: 'queued', attempts: 4, agent_id: 'p', error: null })
    expect(requeueVerdict(task, true, 5)).toEqual({ status: 'failed', attempts: 5, agent_id: 'a', error: 'interrupted 5 times' })
    expect(requeueVerdict({ ...task, attempts: 0 }, false, 5)).toMatchObject({ status: 'queued', attempts: 0 })
  })

  it('an outcome: the result limit first, then a failure with retries left is queued after its delay', () => {
    const task = { retries: 1, retry_delay_ms: 500, retried: 0 }
    expect(outcomeVerdict(task, { kind: 'complete', result: 1 })).toEqual({ status: 'completed', result: 1 })
    expect(outcomeVerdict(task, { kind: 'failed', error: 'x' })).toEqual({ status: 'queued', error: 'x', delayMs: 500 })
    expect(outcomeVerdict({ ...task, retried: 1 }, { kind: 'failed', error: 'x' })).toEqual({ status: 'failed', error: 'x' })
    expect(outcomeVerdict({ ...task, retried: 1 }, { kind: 'complete', result: 'x'.repeat(MAX_RESULT_BYTES) }))
      .toEqual({ status: 'failed', error: RESULT_TOO_LARGE })
  })

  it('cancel verdicts', () => {
    expect(['queued', 'assigned', 'working', 'completed', 'failed', 'cancelled'].map((s) => cancelVerdict(s as never)))
      .toEqual(['cancel', 'cancel_and_signal', 'cancel_and_signal', 'finished', 'finished', 'finished'])
  })

  it('labels match only when every wanted one is there, equal', () => {
    expect(hasLabels(['gpu', 'zone=eu'], ['zone=eu'])).toBe(true)
    expect(hasLabels(['gpu', 'zone=eu'], ['zone'])).toBe(false)
    expect(hasLabels([], [])).toBe(true)
    expect(parseLabelList(' a, b=c ,,a')).toEqual(['a', 'b=c'])
  })
})

describe('output files (single hub)', () => {
  it('a task the board forgets takes its output file with it; unsafe ids stay in memory', async () => {
    const { mkdtemp, readdir, rm } = await import('node:fs/promises')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const { FileTaskOutputs } = await import('../../hub/tasks/file-output.ts')
    const { nodeOutputFiles } = await import('../../hub/node/output-files.ts')
    const { TaskTable } = await import('../../hub/tasks/task-table.ts')
    const { silentLogger } = await import('../../shared/log.ts')
    const dir = join(await mkdtemp(join(tmpdir(), 'agentcom-out-')), 'task-output')
    try {
      const outputs = new FileTaskOutputs(new MemoryTaskOutputs(() => 1), dir, nodeOutputFiles, silentLogger)
      await outputs.start(() => true)
      const forgotten: string[] = []
      const table = new TaskTable({ log: silentLogger, now: () => 1, maxFinished: 1, store: null, storeRetryMs: 1000, onForget: (ids) => {
        forgotten.push(...ids)
        outputs.forget(ids)
      } })
      for (const id of ['t-a', 't-b', '../evil']) outputs.append(id, 'stdout', `out of ${id}`, 0)
      await outputs.flush()
      expect((await readdir(dir)).sort()).toEqual(['t-a.json', 't-b.json'])
      const task = (id: string) => ({ task_id: id, status: 'completed' } as never)
      table.retire(task('t-a'))
      table.retire(task('t-b'))
      expect(forgotten).toEqual(['t-a'])
      await outputs.flush()
      expect(await readdir(dir)).toEqual(['t-b.json'])
      expect((await outputs.read('t-a', 0)).chunks).toEqual([])
      expect((await outputs.read('../evil', 0)).chunks.map((c) => c.data)).toEqual(['out of ../evil'])
      table.close()
      outputs.close()
    } finally {
      await rm(join(dir, '..'), { recursive: true, force: true })
    }
  })

  it('a file an earlier hub left for a task still kept goes when that task is forgotten', async () => {
    const { mkdtemp, mkdir, readdir, rm, writeFile } = await import('node:fs/promises')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const { FileTaskOutputs } = await import('../../hub/tasks/file-output.ts')
    const { nodeOutputFiles } = await import('../../hub/node/output-files.ts')
    const { silentLogger } = await import('../../shared/log.ts')
    const dir = join(await mkdtemp(join(tmpdir(), 'agentcom-out-')), 'task-output')
    try {
      await mkdir(dir, { recursive: true })
      await writeFile(join(dir, 't-kept.json'), JSON.stringify({ chunks: [{ seq: 1, stream: 'stdout', data: 'before', at: 1 }], truncated: false }))
      await writeFile(join(dir, 't-gone.json'), JSON.stringify({ chunks: [], truncated: false }))
      const outputs = new FileTaskOutputs(new MemoryTaskOutputs(() => 1), dir, nodeOutputFiles, silentLogger)
      await outputs.start((id) => id === 't-kept')
      expect(await readdir(dir)).toEqual(['t-kept.json'])
      expect((await outputs.read('t-kept', 0)).chunks.map((c) => c.data)).toEqual(['before'])
      // A task that never had output is forgotten without a file to remove.
      outputs.forget(['t-kept', 't-never'])
      await outputs.flush()
      expect(await readdir(dir)).toEqual([])
      outputs.close()
    } finally {
      await rm(join(dir, '..'), { recursive: true, force: true })
    }
  })
})
