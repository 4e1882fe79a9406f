/**
 * `node --import tsx bench/storm-ab.ts <checkout A> <checkout B> [rounds] [N]`: identify storms
 * on the installed hub (`dist/package`, built first in each checkout) of two checkouts of this
 * repository, alternating A and B, each storm on a fresh hub. Prints each side's storm times and
 * the hub's CPU per identify (user + system, from /proc), with their medians: for telling whether
 * a change to the hub moves the storm, where identify_storm's ratio moves with the bare server too.
 * `AGENTCOM_AB_ENV_B=NAME=value,...` adds settings to B's hubs only (a switch in B's code). Two
 * identical checkouts differ by up to about 4 % in these medians on a 2-core machine.
 */
import { rm } from 'node:fs/promises'
import { resolve } from 'node:path'
import { CONNECT_WINDOW } from './support/fleet.ts'
import { startSwarm } from './support/swarm-client.ts'
import { median } from './support/stats.ts'
import { processCpuMs } from './support/proc-cpu.ts'
import { NODE_HUB_BUILD } from '../support/hub-process.ts'

const [a, b, roundsArg = '8', agentsArg = '10000'] = process.argv.slice(2)
if (!a || !b) {
  process.stderr.write('usage: node --import tsx bench/storm-ab.ts <checkout A> <checkout B> [rounds] [N]\n')
  process.exit(2)
}
const rounds = Number(roundsArg)
const agents = Number(agentsArg)
// NAME=value pairs; a value may hold '=' itself (a flag's own value).
const envB = Object.fromEntries((process.env.AGENTCOM_AB_ENV_B ?? '').split(',').filter(Boolean).map((pair) => {
  const at = pair.indexOf('=')
  if (at < 1) {
    process.stderr.write(`AGENTCOM_AB_ENV_B: "${pair}" is not NAME=value\n`)
    process.exit(2)
  }
  return [pair.slice(0, at), pair.slice(at + 1)]
}))

interface Side { name: 'A' | 'B'; dir: string; env: Record<string, string>; ms: number[]; us: number[] }
const sides: Side[] = [
  { name: 'A', dir: resolve(a), env: {}, ms: [], us: [] },
  { name: 'B', dir: resolve(b), env: envB, ms: [], us: [] },
]

process.env[NODE_HUB_BUILD] = 'package'
for (const side of sides) {
  const { buildPackage, PACKAGE_OUT } = await import(`${side.dir}/scripts/build-package.ts`)
  await buildPackage(`${side.dir}/${PACKAGE_OUT}`)
}

async function storm(side: Side): Promise<void> {
  const { startHubProcess } = await import(`${side.dir}/support/hub-process.ts`)
  const { HUB_BENCH_ENV } = await import(`${side.dir}/bench/support/servers.ts`)
  const hub = await startHubProcess({ ...HUB_BENCH_ENV, ...side.env }, 'node')
  const swarm = startSwarm()
  try {
    const pid = hub.child.pid!
    const cpu0 = processCpuMs(pid)
    const r = await swarm.connect({ wsUrl: hub.wsUrl, count: agents, idPrefix: 'bench-agent-', secret: hub.secret, window: CONNECT_WINDOW, timeoutMs: 120_000 })
    if (r.identified !== agents) throw new Error(`storm on ${side.name}: ${r.identified} of ${agents} identified`)
    side.us.push(((processCpuMs(pid) - cpu0) * 1000) / agents)
    side.ms.push(r.elapsedMs)
  } finally {
    await swarm.stop()
    await hub.stop()
    await rm(hub.dataDir, { recursive: true, force: true })
  }
}

for (let round = 0; round < rounds; round++) {
  for (const side of round % 2 === 0 ? sides : [...sides].reverse()) await storm(side)
}
for (const side of sides) {
  process.stdout.write(`${side.name} ${side.dir}: ms ${side.ms.map((x) => x.toFixed(0)).join(' ')} (median ${median(side.ms).toFixed(0)}); ` +
    `µs CPU/identify ${side.us.map((x) => x.toFixed(0)).join(' ')} (median ${median(side.us).toFixed(0)})\n`)
}
