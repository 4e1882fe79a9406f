/** Order statistics over a handful of samples. */

export function median(values: readonly number[]): number {
  return percentile(values, 50)
}

/** The nearest-rank percentile: the smallest sample that at least p% of the samples are not above. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of no samples')
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[rank - 1]
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
