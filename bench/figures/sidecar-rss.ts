/**
 * sidecar_rss: the resident memory of an idle sidecar, identified to a real hub, under a real
 * pm2 (VmRSS from /proc, once settled). The baseline is a bare Node process holding one `ws`
 * connection under the same pm2, at the same time. Fresh processes each round.
 */
import type { BenchSizes } from '../config.ts'
import { idleRss, withPm2Pair } from '../support/pm2-pair.ts'
import { makeResult, type Result } from '../support/report.ts'
import { median } from '../support/stats.ts'

/** Long enough for the pm2 info that follows identify (one `pm2 jlist`) to be done. */
const IDLE_MS = 3000

export async function sidecarRss(sizes: BenchSizes, log: (line: string) => void): Promise<Result[]> {
  const sidecar: number[] = []
  const bare: number[] = []
  await withPm2Pair(async (pair) => {
    for (let round = 0; round < sizes.sidecarRssRounds; round++) {
      const [a, b] = round % 2 === 0 ? [await pair.startSidecar(), await pair.startBare()] : [await pair.startBare(), await pair.startSidecar()]
      const [sc, bc] = a.name.startsWith('agentcom-') ? [a, b] : [b, a]
      const [scRss, bcRss] = await Promise.all([idleRss(sc.pid, IDLE_MS), idleRss(bc.pid, IDLE_MS)])
      sidecar.push(scRss)
      bare.push(bcRss)
      await pair.remove(sc)
      await pair.remove(bc)
    }
  })
  const mib = (xs: number[]) => xs.map((x) => (x / 2 ** 20).toFixed(1)).join(' ')
  log(`sidecar_rss: sidecar ${mib(sidecar)} MiB; bare ${mib(bare)} MiB`)
  return [makeResult({
    name: 'sidecar_rss', unit: 'MiB', runtime: 'node',
    value: median(sidecar) / 2 ** 20,
    baseline: 'bare Node process holding one `ws` connection, same pm2', baseline_value: median(bare) / 2 ** 20,
    detail: `VmRSS after ${IDLE_MS / 1000} s idle and settled, median of ${sidecar.length} fresh pairs`,
  }, { kind: 'max', ratio: 1.25 })]
}
