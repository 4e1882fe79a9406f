/**
 * restart_round_trip: a real Node hub, one sidecar started from sidecar/ecosystem.config.cjs
 * under a real pm2 in a temporary PM2_HOME, and the time from a restart to the agent identified
 * again (the hub's `agent identified` log line with a higher pm2 restart count). The baseline is
 * an operator's `pm2 restart <name>` on the same sidecar, to the same line.
 *
 * The two alternate. That matters beyond noise: a commanded restart is an exit that pm2's
 * exp_backoff_restart_delay delays (10 ms, then x1.5 per restart until the app has been up
 * 30 s), and `pm2 restart` resets that delay, so alternating gives every hub restart the
 * delay a first restart has. docs/benchmarks.md shows back-to-back restarts too.
 */
import { rm } from 'node:fs/promises'
import type { BenchSizes } from '../config.ts'
import { startHubProcess } from '../../support/hub-process.ts'
import { createPm2Sandbox } from '../../support/pm2.ts'
import { HUB_BENCH_ENV } from '../support/servers.ts'
import { watchJsonLines, type LogLine } from '../support/lines.ts'
import { makeResult, type Result } from '../support/report.ts'
import { onInterrupt } from '../support/cleanup.ts'
import { median, sleep } from '../support/stats.ts'

const AGENT = 'bench-restart-1'
const PM2_NAME = `agentcom-${AGENT}`
const TIMEOUT_MS = 60_000
/** pm2 counts an exit within min_uptime (1 s) of the start as unstable: stay clear of it. */
const SETTLE_MS = 1500

export async function restartRoundTrip(sizes: BenchSizes, log: (line: string) => void): Promise<Result[]> {
  const hub = await startHubProcess(HUB_BENCH_ENV, 'node')
  const lines = watchJsonLines(hub.child.stdout!)
  const pm2 = await createPm2Sandbox()
  const release = onInterrupt(async () => {
    await pm2.kill()
    await hub.stop()
  })
  try {
    const identified = (above: number) => lines.next(
      (l: LogLine) => l.msg === 'agent identified' && l.agent_id === AGENT && typeof l.restart_count === 'number' && l.restart_count > above,
      TIMEOUT_MS, `${AGENT} identified with restart_count > ${above}`,
    )
    const first = identified(-1)
    await pm2.startSidecar(AGENT, { AGENTCOM_HUB_URL: hub.wsUrl, AGENTCOM_TOKEN: await hub.agentToken(AGENT) })
    let count = (await first).restart_count as number
    await sleep(SETTLE_MS)

    const viaHub: number[] = []
    const viaPm2: number[] = []
    const timeHub = async () => {
      const back = identified(count)
      const started = performance.now()
      const res = await hub.api('POST', `/api/admin/agents/${AGENT}/restart`, { reason: 'bench' })
      if (res.status !== 200) throw new Error(`restart answered ${res.status}: ${JSON.stringify(res.body)}`)
      count = (await back).restart_count as number
      viaHub.push(performance.now() - started)
    }
    const timePm2 = async () => {
      const back = identified(count)
      const started = performance.now()
      await pm2.pm2(['restart', PM2_NAME])
      count = (await back).restart_count as number
      viaPm2.push(performance.now() - started)
    }
    for (let round = 0; round < sizes.restartRounds; round++) {
      for (const time of round % 2 === 0 ? [timeHub, timePm2] : [timePm2, timeHub]) {
        await time()
        await sleep(SETTLE_MS)
      }
    }
    log(`restart_round_trip: hub ${viaHub.map((x) => x.toFixed(0)).join(' ')} ms; pm2 restart ${viaPm2.map((x) => x.toFixed(0)).join(' ')} ms`)
    return [makeResult({
      name: 'restart_round_trip', unit: 'ms', runtime: 'node',
      value: median(viaHub),
      baseline: '`pm2 restart <name>` run locally', baseline_value: median(viaPm2),
      detail: `median of ${viaHub.length} restarts each way, alternating`,
    }, { kind: 'max', ratio: 0.75 })]
  } finally {
    release()
    lines.close()
    try {
      await pm2.kill()
    } finally {
      await hub.stop()
      await rm(hub.dataDir, { recursive: true, force: true })
    }
  }
}
