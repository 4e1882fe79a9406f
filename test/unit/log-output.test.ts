/**
 * The hub's stdout batching, on Node and Deno (shared/log-output.ts): a line after a quiet spell goes out
 * at the next turn, lines that keep coming go out at most once per LOG_BATCH_MS (whole lines,
 * in order), a large batch at once, and `flush` (the exit handler) leaves nothing behind.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { LOG_BATCH_BYTES, LOG_BATCH_MS, createLogOutput } from '../../shared/log-output.ts'

describe('log output batching', () => {
  let writes: string[]
  let out: ReturnType<typeof createLogOutput>
  beforeEach(() => {
    vi.useFakeTimers()
    writes = []
    out = createLogOutput((text) => writes.push(text), () => Date.now())
  })
  afterEach(() => vi.useRealTimers())

  it('writes a line after a quiet spell at the next turn, the lines of one turn in one write', async () => {
    out.line('{"msg":"a"}')
    out.line('{"msg":"b"}')
    expect(writes).toEqual([])
    await vi.advanceTimersToNextTimerAsync()
    expect(writes).toEqual(['{"msg":"a"}\n{"msg":"b"}\n'])
  })

  it('writes lines that keep coming at most once per window, none lost or reordered', async () => {
    out.line('1')
    await vi.advanceTimersToNextTimerAsync()
    expect(writes).toEqual(['1\n'])
    for (let i = 2; i <= 5; i++) {
      out.line(String(i))
      await vi.advanceTimersByTimeAsync(2)
    }
    expect(writes).toEqual(['1\n'])
    await vi.advanceTimersByTimeAsync(LOG_BATCH_MS)
    expect(writes).toEqual(['1\n', '2\n3\n4\n5\n'])
    // Quiet again for a whole window: the next line does not wait.
    await vi.advanceTimersByTimeAsync(LOG_BATCH_MS)
    out.line('6')
    await vi.advanceTimersToNextTimerAsync()
    expect(writes).toEqual(['1\n', '2\n3\n4\n5\n', '6\n'])
  })

  it('writes at once past the size limit, and flush writes what is pending', async () => {
    out.line('first')
    await vi.advanceTimersToNextTimerAsync()
    const big = 'x'.repeat(LOG_BATCH_BYTES / 2)
    out.line(big)
    expect(writes).toHaveLength(1)
    out.line(big)
    expect(writes).toEqual(['first\n', `${big}\n${big}\n`])
    out.line('last')
    out.flush()
    expect(writes.at(-1)).toBe('last\n')
    out.flush()
    await vi.runAllTimersAsync()
    expect(writes).toHaveLength(3)
  })
})
