/**
 * Where a hardening test writes the figures docs/reliability.md quotes: one JSON file per
 * test under bench/results/hardening/ (git-ignored), and a line on stdout.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SCALE } from './scale.ts'

const DIR = process.env.AGENTCOM_HARDENING_RESULTS ?? join(import.meta.dirname, '..', '..', '..', 'bench', 'results', 'hardening')

export async function recordFigures(name: string, figures: Record<string, unknown>): Promise<void> {
  const entry = { test: name, scale: SCALE, at: new Date().toISOString(), ...figures }
  await mkdir(DIR, { recursive: true })
  await writeFile(join(DIR, `${name}.json`), `${JSON.stringify(entry, null, 2)}\n`)
  console.log(`[figures] ${name}: ${JSON.stringify(figures)}`)
}

/** The p-th percentile (0..100) of numbers, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

/** Counts of `times` (ms) per bucket of `bucketMs`, from `origin`. */
export function histogram(times: readonly number[], origin: number, bucketMs: number): number[] {
  const counts: number[] = []
  for (const t of times) {
    const i = Math.max(0, Math.floor((t - origin) / bucketMs))
    while (counts.length <= i) counts.push(0)
    counts[i]++
  }
  return counts
}

/** The most `times` that fall in any window of `windowMs`. */
export function maxInWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b)
  let best = 0
  for (let lo = 0, hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi] - sorted[lo] >= windowMs) lo++
    best = Math.max(best, hi - lo + 1)
  }
  return best
}
