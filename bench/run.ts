/**
 * `npm run bench [-- --quick] [--only name,name] [--runtime node|deno]`: every figure of
 * issue 5 beside its baseline, measured in the same run; prints a markdown table and writes
 * bench/results/latest.json. Progress goes to stderr, the table to stdout.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { FULL, QUICK, type BenchSizes } from './config.ts'
import { NODE_HUB_BUILD, type Runtime } from '../support/hub-process.ts'
import { PACKAGE_OUT, buildPackage } from '../scripts/build-package.ts'
import { installInterruptHandlers } from './support/cleanup.ts'
import { machineLine, markdownTable, writeResults, type Result } from './support/report.ts'
import { selfQueryStall } from './figures/self-query-stall.ts'
import { restartRoundTrip } from './figures/restart-round-trip.ts'
import { memoryPerAgent } from './figures/memory-per-agent.ts'
import { commandLatency } from './figures/command-latency.ts'
import { identifyStorm } from './figures/identify-storm.ts'
import { adminApiRps } from './figures/admin-api-rps.ts'
import { sidecarRss } from './figures/sidecar-rss.ts'
import { sidecarStart } from './figures/sidecar-start.ts'
import { eventsFanout } from './figures/events-fanout.ts'
import { clusterCommandLatency, clusterDispatch } from './figures/cluster.ts'
import { agentInstallSize } from './figures/agent-install-size.ts'
import { clusterTaskThroughput, taskThroughput, taskThroughputScaling } from './figures/throughput.ts'

type Log = (line: string) => void
interface Figure {
  name: string
  /** The hub's runtime; the sidecar figures run on Node only. */
  runtime: Runtime
  run(sizes: BenchSizes, log: Log): Promise<Result[]>
}

const perRuntime = (name: string, measure: (sizes: BenchSizes, runtime: Runtime, log: Log) => Promise<Result[]>): Figure[] =>
  (['node', 'deno'] as const).map((runtime) => ({ name, runtime, run: (sizes, log) => measure(sizes, runtime, log) }))

const FIGURES: Figure[] = [
  { name: 'self_query_stall', runtime: 'node', run: selfQueryStall },
  { name: 'restart_round_trip', runtime: 'node', run: restartRoundTrip },
  { name: 'sidecar_rss', runtime: 'node', run: sidecarRss },
  { name: 'sidecar_start', runtime: 'node', run: sidecarStart },
  ...perRuntime('memory_per_agent', memoryPerAgent),
  ...perRuntime('command_latency_p99', commandLatency),
  ...perRuntime('identify_storm', identifyStorm),
  ...perRuntime('admin_api_rps', adminApiRps),
  ...perRuntime('events_fanout', eventsFanout),
  ...perRuntime('cluster_command_latency_p99', clusterCommandLatency),
  ...perRuntime('cluster_dispatch_rps', clusterDispatch),
  { name: 'agent_install_size', runtime: 'node', run: agentInstallSize },
  ...perRuntime('task_throughput', taskThroughput),
  ...perRuntime('task_throughput_scaling', taskThroughputScaling),
  ...perRuntime('cluster_task_throughput', clusterTaskThroughput),
]

const RESULTS = join(import.meta.dirname, 'results', 'latest.json')
/** File descriptors each process needs beyond one per agent (pipes, pm2, the runtime's own). */
const FD_MARGIN = 1024

const args = process.argv.slice(2)
const sizes = args.includes('--quick') ? QUICK : FULL
const onlyAt = args.indexOf('--only')
const only = onlyAt === -1 ? null : new Set(args[onlyAt + 1]?.split(',') ?? [])
if (only) {
  const unknown = [...only].filter((name) => !FIGURES.some((f) => f.name === name))
  if (unknown.length > 0) fail(`unknown figure ${unknown.join(', ')}; known: ${[...new Set(FIGURES.map((f) => f.name))].join(', ')}`)
}
const runtimeAt = args.indexOf('--runtime')
const runtime = runtimeAt === -1 ? null : args[runtimeAt + 1]
if (runtime !== null && runtime !== 'node' && runtime !== 'deno') fail(`--runtime takes node or deno, not ${runtime}`)

raiseFileLimit(sizes.agents + FD_MARGIN)
installInterruptHandlers()
// A Node hub runs as an installed `agentcom hub` runs it: the package's bundle, built here from
// the code as it is now (AGENTCOM_NODE_HUB_BUILD=source runs hub/node.ts through tsx instead).
if (process.env[NODE_HUB_BUILD] !== 'source') {
  await buildPackage(join(import.meta.dirname, '..', PACKAGE_OUT))
  process.env[NODE_HUB_BUILD] = 'package'
}

const log: Log = (line) => process.stderr.write(`  ${line}\n`)
const started = Date.now()
const results: Result[] = []
const failures: string[] = []
process.stderr.write(`bench: ${sizes.quick ? 'quick' : 'full'} run, N=${sizes.agents}, Node hub from ${process.env[NODE_HUB_BUILD] ?? 'source'}, on ${machineLine()}\n`)
for (const figure of FIGURES) {
  if ((only && !only.has(figure.name)) || (runtime && figure.runtime !== runtime)) continue
  const t0 = Date.now()
  process.stderr.write(`bench: ${figure.name}...\n`)
  try {
    results.push(...(await figure.run(sizes, log)))
    process.stderr.write(`bench: ${figure.name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`)
  } catch (err) {
    const message = err instanceof Error ? err.stack ?? err.message : String(err)
    failures.push(`${figure.name}: ${message}`)
    process.stderr.write(`bench: ${figure.name} FAILED: ${message}\n`)
  }
}
// Node rows first, each Deno row right after its Node row.
results.sort((a, b) => order(a) - order(b))
await writeResults(RESULTS, results)
process.stdout.write(`\n${markdownTable(results)}\n\n${sizes.quick ? 'Quick' : 'Full'} run (N=${sizes.agents}) on ${machineLine()}, ` +
  `${((Date.now() - started) / 1000).toFixed(0)} s. Written to bench/results/latest.json.\n`)
if (failures.length > 0) fail(`${failures.length} figure(s) could not be measured:\n${failures.join('\n')}`)

function order(r: Result): number {
  const at = FIGURES.findIndex((f) => f.name === r.name.replace(/_deno$/, ''))
  return at * 2 + (r.runtime === 'deno' ? 1 : 0)
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`)
  process.exit(1)
}

/**
 * N connections take N file descriptors in the server and in the swarm. Node cannot raise its
 * own limit, so when the soft limit is short of `need` and the hard limit allows it, the bench
 * runs itself again under `ulimit -n`; children inherit the raised limit.
 */
function raiseFileLimit(need: number): void {
  const limits = readFileSync('/proc/self/limits', 'utf8')
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limits)
  if (!m) return
  const soft = m[1] === 'unlimited' ? Infinity : Number(m[1])
  const hard = m[2] === 'unlimited' ? Infinity : Number(m[2])
  if (soft >= need) return
  if (hard < need || process.env.AGENTCOM_BENCH_ULIMIT_RAISED) {
    fail(`N=${sizes.agents} needs ${need} open files per process; this shell allows ${soft} (hard limit ${hard}). Raise it with ulimit -n.`)
  }
  const child = spawnSync('/bin/sh', ['-c', `ulimit -n ${need} && exec "$0" "$@"`, process.execPath, ...process.execArgv, process.argv[1], ...args], {
    stdio: 'inherit', env: { ...process.env, AGENTCOM_BENCH_ULIMIT_RAISED: '1' },
  })
  process.exit(child.status ?? 1)
}
