/**
 * memory_per_agent: the server's RSS growth per identified agent with N connected, read from
 * /proc once it has settled. The baseline is a bare WebSocket server holding as many
 * connections (each answered once, as the hub answers identify). Fresh processes per fleet.
 */
import type { BenchSizes } from '../config.ts'
import type { Runtime } from '../../support/hub-process.ts'
import type { ServerUnderTest } from '../support/servers.ts'
import { BASELINE, connectFleet, figureName, starter, withServer, withSwarm } from '../support/fleet.ts'
import { makeResult, type Result } from '../support/report.ts'
import { median, sleep } from '../support/stats.ts'

export async function memoryPerAgent(sizes: BenchSizes, runtime: Runtime, log: (line: string) => void): Promise<Result[]> {
  const bytes: Record<'hub' | 'bare-ws', number[]> = { hub: [], 'bare-ws': [] }
  for (let round = 0; round < sizes.memoryRounds; round++) {
    for (const side of round % 2 === 0 ? (['hub', 'bare-ws'] as const) : (['bare-ws', 'hub'] as const)) {
      bytes[side].push(await withServer(starter(side, runtime), (server) => withSwarm(async (swarm) => {
        const before = await settledRss(server)
        await connectFleet(swarm, server, sizes.agents)
        return ((await settledRss(server)) - before) / sizes.agents
      })))
    }
  }
  const kib = (xs: number[]) => xs.map((x) => (x / 1024).toFixed(1)).join(' ')
  log(`memory_per_agent (${runtime}, N=${sizes.agents}): hub ${kib(bytes.hub)} KiB; bare ${kib(bytes['bare-ws'])} KiB`)
  return [makeResult({
    name: figureName('memory_per_agent', runtime), unit: 'KiB', runtime,
    value: median(bytes.hub) / 1024,
    baseline: `${BASELINE['bare-ws'][runtime]} holding N connections`, baseline_value: median(bytes['bare-ws']) / 1024,
    detail: `N=${sizes.agents}, RSS growth / N, median of ${sizes.memoryRounds} fleets each`,
  }, { kind: 'max', ratio: 1.5 })]
}

/** RSS once two readings 500 ms apart differ by under 1 % (at most 10 s). */
async function settledRss(server: ServerUnderTest): Promise<number> {
  let last = server.rssBytes()
  for (let i = 0; i < 20; i++) {
    await sleep(500)
    const now = server.rssBytes()
    if (Math.abs(now - last) < last * 0.01) return now
    last = now
  }
  return last
}
