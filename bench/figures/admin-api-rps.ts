/**
 * admin_api_rps: requests/s of `GET /api/admin/agents/:agent_id` (with the admin token) with N
 * agents connected, from autocannon in the bench's own process. The baseline is a bare Hono
 * route on the same server stack answering an agent of the same shape, also with N connected,
 * sent the same headers. Runs alternate after a warm-up run on each.
 */
import autocannon from 'autocannon'
import type { BenchSizes } from '../config.ts'
import type { Runtime } from '../../support/hub-process.ts'
import { BASELINE, figureName, withHubAndBareHono, type ConnectedFleet } from '../support/fleet.ts'
import { makeResult, type Result } from '../support/report.ts'
import { median } from '../support/stats.ts'

const WARMUP_S = 1

export async function adminApiRps(sizes: BenchSizes, runtime: Runtime, log: (line: string) => void): Promise<Result[]> {
  return withHubAndBareHono(runtime, sizes.agents, async ({ hub, bare }) => {
    const rps = { hub: [] as number[], bare: [] as number[] }
    const load = (fleet: ConnectedFleet, seconds: number) =>
      requestsPerSecond(`${fleet.server.url}${fleet.server.agentPath.replace('{id}', 'bench-agent-7')}`, fleet.server.adminHeaders, sizes.rpsConnections, seconds)
    await load(hub, WARMUP_S)
    await load(bare, WARMUP_S)
    for (let round = 0; round < sizes.rpsRounds; round++) {
      for (const side of round % 2 === 0 ? (['hub', 'bare'] as const) : (['bare', 'hub'] as const)) {
        rps[side].push(await load(side === 'hub' ? hub : bare, sizes.rpsSeconds))
      }
    }
    const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ')
    log(`admin_api_rps (${runtime}, N=${sizes.agents}): hub ${list(rps.hub)} req/s; bare ${list(rps.bare)} req/s`)
    return [makeResult({
      name: figureName('admin_api_rps', runtime), unit: 'req/s', runtime,
      value: median(rps.hub),
      baseline: `${BASELINE['bare-hono'][runtime]} on the same stack`, baseline_value: median(rps.bare),
      detail: `N=${sizes.agents}, autocannon ${sizes.rpsConnections} connections, median of ${sizes.rpsRounds} × ${sizes.rpsSeconds} s each`,
    }, { kind: 'min', ratio: 0.8 })]
  })
}

async function requestsPerSecond(url: string, headers: Record<string, string>, connections: number, seconds: number): Promise<number> {
  const result = await autocannon({ url, headers, connections, duration: seconds, pipelining: 1 })
  if (result.errors > 0 || result.timeouts > 0 || result.non2xx > 0) {
    throw new Error(`load on ${url}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx answers`)
  }
  return result['2xx'] / result.duration
}
