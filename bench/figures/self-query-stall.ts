/**
 * self_query_stall: the longest event-loop delay in a process under a real pm2 while the
 * sidecar's `getInfo()` runs, against the seed's `execSync('pm2 jlist')` in the same process.
 * The probe (self-query-probe.ts) runs as a pm2 app beside a few idle neighbours, so that
 * `pm2 jlist` prints what it prints for a small fleet.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { BenchSizes } from '../config.ts'
import { createPm2Sandbox } from '../../support/pm2.ts'
import { makeResult, type Result } from '../support/report.ts'
import { onInterrupt } from '../support/cleanup.ts'
import { median, sleep } from '../support/stats.ts'
import type { ProbeOutput } from './self-query-probe.ts'

const ROOT = join(import.meta.dirname, '..', '..')
const TIMEOUT_MS = 120_000

export async function selfQueryStall(sizes: BenchSizes, log: (line: string) => void): Promise<Result[]> {
  const pm2 = await createPm2Sandbox()
  const release = onInterrupt(() => pm2.kill())
  try {
    const out = join(pm2.home, 'probe.json')
    const apps = [
      ...Array.from({ length: sizes.pm2Neighbours }, (_, i) => ({
        name: `bench-neighbour-${i}`, script: process.execPath, args: ['-e', 'setInterval(() => {}, 1 << 30)'],
        interpreter: 'none', autorestart: false,
      })),
      {
        name: 'bench-self-query', script: join(ROOT, 'bench/figures/self-query-probe.ts'), cwd: ROOT,
        interpreter: 'node', node_args: '--import tsx', autorestart: false,
        env: { BENCH_OUT: out, BENCH_ROUNDS: String(sizes.selfQueryRounds) },
      },
    ]
    const appFile = join(pm2.home, 'bench-apps.json')
    await writeFile(appFile, JSON.stringify({ apps }))
    await pm2.pm2(['start', appFile])
    // Only the file is polled: a `pm2 list` meanwhile would load the very loop being timed.
    const result = await waitForFile(out, TIMEOUT_MS)
    const stalls = (samples: ProbeOutput['getInfo']) => samples.map((s) => s.stallMs)
    log(`self_query_stall: ${result.processes} pm2 processes, jlist ${(result.jlistBytes / 1024).toFixed(0)} KiB; ` +
      `getInfo() stalls ${stalls(result.getInfo).map((x) => x.toFixed(1)).join(' ')} ms over ${median(result.getInfo.map((s) => s.durationMs)).toFixed(0)} ms; ` +
      `execSync stalls ${stalls(result.execSync).map((x) => x.toFixed(0)).join(' ')} ms`)
    return [makeResult({
      name: 'self_query_stall', unit: 'ms', runtime: 'node',
      value: median(stalls(result.getInfo)),
      baseline: "the seed's `execSync('pm2 jlist')`", baseline_value: median(stalls(result.execSync)),
      detail: `median over ${result.getInfo.length} calls each of the max event-loop delay during the call`,
    }, { kind: 'max', ratio: 0.05 })]
  } finally {
    release()
    await pm2.kill()
  }
}

async function waitForFile(path: string, timeoutMs: number): Promise<ProbeOutput> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    let text: string | null = null
    try {
      text = await readFile(path, 'utf8')
    } catch {
      // Not written yet.
    }
    if (text) {
      const parsed = JSON.parse(text) as ProbeOutput | { error: string }
      if ('error' in parsed) throw new Error(`self-query probe: ${parsed.error}`)
      return parsed
    }
    if (Date.now() > deadline) throw new Error(`no self-query result within ${timeoutMs} ms (see the probe's pm2 logs)`)
    await sleep(250)
  }
}
