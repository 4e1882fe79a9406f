import { describe, expect, it } from 'vitest'
import { backoffDelay, LINK_DEFAULTS } from '../../sidecar/hub-link.ts'

const BASE = 500
const MAX = 30_000
const low = () => 0
const high = () => 1

describe('backoffDelay', () => {
  it('doubles the ceiling with each attempt', () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(n, BASE, MAX, high)))
      .toEqual([500, 1000, 2000, 4000, 8000, 16_000])
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(n, BASE, MAX, low)))
      .toEqual([250, 500, 1000, 2000, 4000, 8000])
  })

  it('is capped at the maximum', () => {
    for (const attempt of [6, 7, 10, 30, 31, 100, 10_000]) {
      expect(backoffDelay(attempt, BASE, MAX, high)).toBe(MAX)
      expect(backoffDelay(attempt, BASE, MAX, low)).toBe(MAX / 2)
    }
  })

  it('stays finite for huge attempt counts', () => {
    expect(backoffDelay(Number.MAX_SAFE_INTEGER, 1, Number.MAX_SAFE_INTEGER, high)).toBe(2 ** 30)
  })

  it('keeps jitter within [ceiling/2, ceiling]', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(MAX, BASE * 2 ** attempt)
      for (const r of [0, 0.001, 0.25, 0.5, 0.75, 0.999, 1]) {
        const delay = backoffDelay(attempt, BASE, MAX, () => r)
        expect(delay).toBeGreaterThanOrEqual(ceiling / 2)
        expect(delay).toBeLessThanOrEqual(ceiling)
        expect(delay).toBe(Math.round(ceiling / 2 + r * (ceiling / 2)))
      }
    }
  })

  it('spreads delays across the random values', () => {
    const delays = [0, 0.2, 0.4, 0.6, 0.8, 1].map((r) => backoffDelay(3, BASE, MAX, () => r))
    expect(delays).toEqual([2000, 2400, 2800, 3200, 3600, 4000])
    // A fleet drawing different random values must not reconnect in one burst.
    const fleet = new Set(Array.from({ length: 100 }, (_, i) => backoffDelay(8, BASE, MAX, () => i / 100)))
    expect(fleet.size).toBe(100)
  })

  it('returns whole milliseconds', () => {
    expect(backoffDelay(0, 3, MAX, () => 0.5)).toBe(2) // 1.5 + 0.75 = 2.25
    expect(backoffDelay(0, 3, MAX, () => 0)).toBe(2) // 1.5 rounds up
  })

  it('uses the documented defaults', () => {
    expect(LINK_DEFAULTS.backoffBaseMs).toBe(500)
    expect(LINK_DEFAULTS.backoffMaxMs).toBe(30_000)
  })
})
