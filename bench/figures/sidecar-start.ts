/**
 * sidecar_start: ms from `pm2 start` of a sidecar (sidecar/ecosystem.config.cjs) to the hub's
 * `agent identified` line. The baseline is `pm2 start` of a bare Node process holding one `ws`
 * connection to its connection being accepted by a bare `ws` server. Both under the same pm2,
 * alternating, each start a new process.
 */
import type { BenchSizes } from '../config.ts'
import { withPm2Pair, type Started } from '../support/pm2-pair.ts'
import { makeResult, type Result } from '../support/report.ts'
import { median } from '../support/stats.ts'

export async function sidecarStart(sizes: BenchSizes, log: (line: string) => void): Promise<Result[]> {
  const sidecar: number[] = []
  const bare: number[] = []
  await withPm2Pair(async (pair) => {
    const time = async (start: () => Promise<Started>, into: number[]) => {
      const started = await start()
      into.push(started.ms)
      await pair.remove(started)
    }
    for (let round = 0; round < sizes.sidecarStartRounds; round++) {
      if (round % 2 === 0) {
        await time(pair.startSidecar, sidecar)
        await time(pair.startBare, bare)
      } else {
        await time(pair.startBare, bare)
        await time(pair.startSidecar, sidecar)
      }
    }
  })
  const ms = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ')
  log(`sidecar_start: sidecar ${ms(sidecar)} ms; bare ${ms(bare)} ms`)
  return [makeResult({
    name: 'sidecar_start', unit: 'ms', runtime: 'node',
    value: median(sidecar),
    baseline: '`pm2 start` of a bare Node `ws` client to its connection accepted', baseline_value: median(bare),
    detail: `median of ${sidecar.length} starts each way, alternating`,
  }, { kind: 'max', ratio: 1.5 })]
}
