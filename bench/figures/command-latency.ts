/**
 * command_latency_p99: p99 ms from a restart request to the agent's socket receiving
 * `restart_sidecar`, with N agents connected. Requests go one at a time from the swarm process
 * that holds the agents, so one clock times both ends; each agent is restarted once. The
 * baseline is a bare Hono route that sends one frame to a bare client, with N connected too.
 * The sides alternate in chunks, after untimed warm-up requests on each.
 */
import type { BenchSizes } from '../config.ts'
import type { Runtime } from '../../support/hub-process.ts'
import { BASELINE, figureName, withHubAndBareHono, type ConnectedFleet } from '../support/fleet.ts'
import { makeResult, type Result } from '../support/report.ts'
import { percentile } from '../support/stats.ts'

/** Many small chunks, so that both sides meet the same bursts of load from elsewhere on the machine. */
const CHUNKS = 20

export async function commandLatency(sizes: BenchSizes, runtime: Runtime, log: (line: string) => void): Promise<Result[]> {
  if (sizes.commandWarmup + sizes.commandSamples > sizes.agents) throw new Error('more restart probes than agents')
  return withHubAndBareHono(runtime, sizes.agents, async ({ hub, bare }) => {
    const samples = { hub: [] as number[], bare: [] as number[] }
    let offset = 0
    const probe = (fleet: ConnectedFleet, count: number) => fleet.swarm.probe({
      httpUrl: fleet.server.url, pathTemplate: fleet.server.restartPath, headers: fleet.server.adminHeaders,
      offset, count, timeoutMs: 10_000,
    })
    await probe(hub, sizes.commandWarmup)
    await probe(bare, sizes.commandWarmup)
    offset += sizes.commandWarmup
    const chunk = Math.ceil(sizes.commandSamples / CHUNKS)
    for (let done = 0; done < sizes.commandSamples; done += chunk) {
      const count = Math.min(chunk, sizes.commandSamples - done)
      samples.hub.push(...(await probe(hub, count)))
      samples.bare.push(...(await probe(bare, count)))
      offset += count
    }
    const summary = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(2)} p99 ${percentile(xs, 99).toFixed(2)} max ${percentile(xs, 100).toFixed(2)} ms`
    log(`command_latency_p99 (${runtime}, N=${sizes.agents}): hub ${summary(samples.hub)}; bare ${summary(samples.bare)}`)
    return [makeResult({
      name: figureName('command_latency_p99', runtime), unit: 'ms', runtime,
      value: percentile(samples.hub, 99),
      baseline: `${BASELINE['bare-hono'][runtime]} sending one frame`, baseline_value: percentile(samples.bare, 99),
      detail: `N=${sizes.agents}, ${samples.hub.length} requests each, one at a time`,
    }, { kind: 'max', ratio: 1.35 })]
  })
}
