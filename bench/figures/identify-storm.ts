/**
 * identify_storm: ms until N agents, connecting as fast as the server accepts them, are all
 * identified, on a fresh hub (a fleet reconnecting after a hub restart). The baseline is a bare
 * WebSocket server that answers each connection's first frame. Each storm gets fresh processes;
 * the sides alternate.
 */
import type { BenchSizes } from '../config.ts'
import type { Runtime } from '../../support/hub-process.ts'
import { BASELINE, connectFleet, figureName, starter, withServer, withSwarm, type Side } from '../support/fleet.ts'
import { makeResult, type Result } from '../support/report.ts'
import { median } from '../support/stats.ts'

export async function identifyStorm(sizes: BenchSizes, runtime: Runtime, log: (line: string) => void): Promise<Result[]> {
  const ms: Record<'hub' | 'bare-ws', number[]> = { hub: [], 'bare-ws': [] }
  for (let round = 0; round < sizes.stormRounds; round++) {
    for (const side of round % 2 === 0 ? (['hub', 'bare-ws'] as const) : (['bare-ws', 'hub'] as const)) {
      ms[side].push(await storm(side, runtime, sizes.agents))
    }
  }
  log(`identify_storm (${runtime}, N=${sizes.agents}): hub ${ms.hub.map((x) => x.toFixed(0)).join(' ')} ms; ` +
    `bare ${ms['bare-ws'].map((x) => x.toFixed(0)).join(' ')} ms`)
  return [makeResult({
    name: figureName('identify_storm', runtime), unit: 'ms', runtime,
    value: median(ms.hub),
    baseline: `${BASELINE['bare-ws'][runtime]} answering each first frame`, baseline_value: median(ms['bare-ws']),
    detail: `N=${sizes.agents}, median of ${sizes.stormRounds} storms each`,
  }, { kind: 'max', ratio: 1.75 })]
}

function storm(side: Side, runtime: Runtime, agents: number): Promise<number> {
  return withServer(starter(side, runtime), (server) => withSwarm((swarm) => connectFleet(swarm, server, agents)))
}
