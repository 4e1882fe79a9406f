/**
 * A seeded generator, so a fuzz run that finds something can be replayed exactly:
 * AGENTCOM_FUZZ_SEED=<the seed printed by the failing run>.
 */
export const SEED = process.env.AGENTCOM_FUZZ_SEED ? Number(process.env.AGENTCOM_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 32)
if (!Number.isInteger(SEED)) throw new Error(`AGENTCOM_FUZZ_SEED must be an integer, got ${process.env.AGENTCOM_FUZZ_SEED}`)

export interface Rng {
  /** [0, 1) */
  next(): number
  int(min: number, max: number): number
  pick<T>(items: readonly T[]): T
  chance(p: number): boolean
  bytes(n: number): Uint8Array
  /** Any UTF-16 code units, lone surrogates and controls included. */
  text(n: number): string
}

/** mulberry32: tiny, fast, good enough to spread fuzz cases. */
export function createRng(seed: number): Rng {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1))
  return {
    next,
    int,
    pick: (items) => items[Math.floor(next() * items.length)],
    chance: (p) => next() < p,
    bytes(n) {
      const out = new Uint8Array(n)
      for (let i = 0; i < n; i++) out[i] = int(0, 255)
      return out
    },
    text(n) {
      let s = ''
      for (let i = 0; i < n; i++) s += String.fromCharCode(next() < 0.7 ? int(32, 126) : int(0, 0xffff))
      return s
    },
  }
}
