/** One figure beside its baseline, as bench/results/latest.json lists them, and the table printed. */
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { dirname } from 'node:path'

/**
 * `max`: the ratio must be at most `ratio`; `min`: at least. `recorded`: a figure measured for
 * the record with no target (its `met` is null), where this machine cannot show what a target
 * would promise.
 */
export type Target = { kind: 'max' | 'min'; ratio: number } | { kind: 'recorded' }

export interface Result {
  /** The figure name; Deno rows end in `_deno`. */
  name: string
  unit: string
  value: number
  /** What the value is compared with, measured in the same run. */
  baseline: string
  baseline_value: number
  /** value / baseline_value */
  ratio: number
  runtime: 'node' | 'deno'
  /** e.g. "<= 1.5", or "none (recorded)" */
  target: string
  /** Null for a figure with no target. */
  met: boolean | null
  /** How the figure was taken: sample counts and sizes. */
  detail: string
}

export function makeResult(r: Omit<Result, 'ratio' | 'target' | 'met'>, target: Target): Result {
  const ratio = r.value / r.baseline_value
  const met = target.kind === 'recorded' ? null : target.kind === 'max' ? ratio <= target.ratio : ratio >= target.ratio
  const shown = target.kind === 'recorded' ? 'none (recorded)' : `${target.kind === 'max' ? '<=' : '>='} ${target.ratio}`
  // The six fields first, in its order; the rest after.
  return {
    name: r.name, unit: r.unit, value: r.value, baseline: r.baseline, baseline_value: r.baseline_value, ratio,
    runtime: r.runtime, target: shown, met, detail: r.detail,
  }
}

const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(3))

export function markdownTable(results: readonly Result[]): string {
  const rows = [
    '| name | runtime | unit | value | baseline | baseline value | ratio | target | met |',
    '| --- | --- | --- | ---: | --- | ---: | ---: | --- | --- |',
    ...results.map((r) =>
      `| ${r.name} | ${r.runtime} | ${r.unit} | ${fmt(r.value)} | ${r.baseline} | ${fmt(r.baseline_value)} | ${r.ratio.toFixed(3)} | ${r.target} | ${r.met === null ? '—' : r.met ? 'yes' : '**no**'} |`),
  ]
  return rows.join('\n')
}

export function machineLine(): string {
  const cpu = cpus()
  return `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
    `Node ${process.version}, ${process.platform} ${process.arch}`
}

export async function writeResults(path: string, results: readonly Result[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, `${JSON.stringify(results, null, 2)}\n`)
}
