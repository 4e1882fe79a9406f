/** The single-flight interval loop both task sweeps run on (shared/interval-loop.ts). */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { startIntervalLoop } from '../../shared/interval-loop.ts'

beforeEach(() => vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] }))
afterEach(() => vi.useRealTimers())

/** A pass that stays under way until finish() is called; counts its starts. */
function heldPass() {
  const held = { starts: 0, finish: () => {}, fail: (_err: Error) => {} }
  const pass = () => {
    held.starts++
    return new Promise<void>((resolve, reject) => {
      held.finish = resolve
      held.fail = reject
    })
  }
  return { held, pass }
}

describe('startIntervalLoop', () => {
  it('runs a pass each interval and never overlaps one still running', async () => {
    const { held, pass } = heldPass()
    const loop = startIntervalLoop(pass, { intervalMs: 100, onError: () => {} })
    await vi.advanceTimersByTimeAsync(99)
    expect(held.starts).toBe(0)
    await vi.advanceTimersByTimeAsync(1)
    expect(held.starts).toBe(1)
    // Three more ticks while it runs: none starts a second pass.
    await vi.advanceTimersByTimeAsync(300)
    expect(held.starts).toBe(1)
    held.finish()
    await vi.advanceTimersByTimeAsync(100)
    expect(held.starts).toBe(2)
    loop.stop()
  })

  it('run() answers the pass under way, and starts one when none is', async () => {
    const { held, pass } = heldPass()
    const loop = startIntervalLoop(pass, { intervalMs: 1000, onError: () => {} })
    const first = loop.run()
    expect(loop.run()).toBe(first)
    expect(held.starts).toBe(1)
    held.finish()
    await first
    void loop.run()
    expect(held.starts).toBe(2)
    loop.stop()
  })

  it('hands a failed pass to onError and goes on', async () => {
    const { held, pass } = heldPass()
    const errors: unknown[] = []
    const loop = startIntervalLoop(pass, { intervalMs: 100, onError: (err) => errors.push(err) })
    await vi.advanceTimersByTimeAsync(100)
    held.fail(new Error('database away'))
    await vi.advanceTimersByTimeAsync(0)
    expect(errors).toEqual([new Error('database away')])
    await vi.advanceTimersByTimeAsync(100)
    expect(held.starts).toBe(2)
    loop.stop()
  })

  it('stop() stops the ticks', async () => {
    const { held, pass } = heldPass()
    const loop = startIntervalLoop(pass, { intervalMs: 100, onError: () => {} })
    await vi.advanceTimersByTimeAsync(100)
    held.finish()
    expect(loop.stopped).toBe(false)
    loop.stop()
    expect(loop.stopped).toBe(true)
    await vi.advanceTimersByTimeAsync(1000)
    expect(held.starts).toBe(1)
    expect(vi.getTimerCount()).toBe(0)
  })
})
