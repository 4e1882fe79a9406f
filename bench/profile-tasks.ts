/**
 * `node --import tsx bench/profile-tasks.ts single|cluster|bullmq [N] [dir] [--runtime deno] [--no-profile] [--trace-jit] [--short-warm-up]`:
 * the task_throughput load (task-load.ts, W = 50, 32 in flight) against one hub, after the
 * figure's own untimed warm-up (10 000 tasks; `--short-warm-up`: N / 5, at most 1 000, as before
 * round 7 and as task_throughput_scaling still does), with the hub under the CPU profiler
 * (its profile written to `dir`, of the timed run only on Node; `--no-profile`: none, for CPU
 * times without the profiler's own cost); prints tasks/s, where the main threads' wall time went
 * (on a core, waiting for one, idle), the hub's CPU per task (its main thread and its other threads:
 * V8's compiler and GC, the file system pool) and the load generator's (this process).
 * `--runtime deno` runs a Deno hub, profiled through Deno's node:inspector
 * (support/cpu-profile-deno.mjs). `bullmq` runs the same load through BullMQ and prints the same
 * for redis-server and its client side, to compare what each side's harness costs. For the
 * profiles docs/benchmarks.md quotes, beside the figure's own ratio. `--trace-jit` (Node): V8's
 * optimizing compiles, aborted compiles and deoptimizations in the timed run, counted per function
 * (bench/support/jit-trace.mjs; the trace is left in `dir`).
 */
import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { startHub, type ServerUnderTest } from './support/servers.ts'
import { withClusterHub } from './support/cluster.ts'
import { STEADY_WARM_UP_TASKS, hubTaskRun, type LoadShape } from './support/task-load.ts'
import { bullmqRun, startRedis } from './support/peers.ts'
import type { Runtime } from '../support/hub-process.ts'
import { jitSummary } from './support/jit-summary.ts'
import { cpuMsByThreadName, statCpuMs } from './support/proc-cpu.ts'

const flags = process.argv.slice(2).filter((a) => a.startsWith('--'))
const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--runtime')
const [mode = 'single', n = '5000', dir = 'bench/results/profiles'] = positional
const runtime: Runtime = process.argv.includes('--runtime') && process.argv[process.argv.indexOf('--runtime') + 1] === 'deno' ? 'deno' : 'node'
const profile = !flags.includes('--no-profile')
const shape: LoadShape = { workers: 50, tasks: Number(n), inFlight: 32 }
// The task_throughput figure's own warm-up (figures/throughput.ts); `--short-warm-up`: the one before round 7.
const warmUp: LoadShape = { ...shape, tasks: flags.includes('--short-warm-up') ? Math.min(1000, shape.tasks / 5) : STEADY_WARM_UP_TASKS }
const out = resolve(dir)
await mkdir(out, { recursive: true })
if (profile) {
  // Inherited by the hub processes started below (support/hub-process.ts passes process.env on);
  // Node refuses --cpu-prof there, so a preload starts the same profiler (support/cpu-profile.mjs).
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import ${resolve(import.meta.dirname, 'support/cpu-profile.mjs')}`.trim()
  process.env.AGENTCOM_BENCH_DENO_PRELOAD = resolve(import.meta.dirname, 'support/cpu-profile-deno.mjs')
  process.env.AGENTCOM_CPU_PROFILE_DIR = out
}
const jitTrace = flags.includes('--trace-jit') && runtime === 'node' ? join(out, `jit-${Date.now()}.log`) : null
if (jitTrace) {
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import ${resolve(import.meta.dirname, 'support/jit-trace.mjs')}`.trim()
  process.env.AGENTCOM_JIT_TRACE_FILE = jitTrace
}
let perSecond: number
if (mode === 'cluster') {
  perSecond = await withClusterHub(runtime, async ({ hub, databaseUrl }) => {
    await hubTaskRun({ hubs: [hub], shape: warmUp, prefix: 'w' })
    const before = await databaseCounters(databaseUrl)
    const rate = await timedRun(hub)
    // The statistics reach the views within a second of a backend going idle.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const after = await databaseCounters(databaseUrl)
    const per = (key: keyof typeof after) => ((after[key] - before[key]) / shape.tasks).toFixed(2)
    process.stdout.write(`per task: ${per('commits')} commits, ${per('inserts')} inserts (${per('eventInserts')} events), ` +
      `${per('updates')} updates, ${per('walBytes')} WAL bytes\n`)
    if (profile && runtime === 'deno') await denoProfile(hub.pid)
    return rate
  })
} else if (mode === 'bullmq') {
  const redis = await startRedis()
  try {
    // The figure's own untimed warm-up, on a queue of its own (figures/throughput.ts).
    await bullmqRun(redis, warmUp, 'profile-warm-up')
    const before = { server: threadCpuMs(redis.pid), self: selfCpuMs() }
    const wall = wallShares([['redis-server', redis.pid], ['client', process.pid]])
    perSecond = await bullmqRun(redis, shape, 'profile')
    const server = threadCpuMs(redis.pid)
    process.stdout.write(`${wall()}\nredis-server CPU per task: ${perTask(server.all - before.server.all)} ms; ` +
      `client (queue and workers, this process): ${perTask(selfCpuMs() - before.self)} ms\n`)
  } finally {
    await redis.stop()
  }
} else {
  const hub = await startHub(runtime)
  try {
    await hubTaskRun({ hubs: [hub], shape: warmUp, prefix: 'w' })
    perSecond = await timedRun(hub)
    if (profile && runtime === 'deno') await denoProfile(hub.pid)
  } finally {
    await hub.stop()
  }
}
if (jitTrace && existsSync(jitTrace)) process.stdout.write(`V8 in the timed run (${jitTrace}):\n${jitSummary(jitTrace)}`)
process.stdout.write(`${mode} (${runtime}): ${shape.tasks} tasks, ${perSecond.toFixed(0)}/s; profile in ${out}\n`)

/** One run, and the CPU time per task it took the hub and the load generator (user + system, from /proc). */
async function timedRun(hub: ServerUnderTest): Promise<number> {
  // Starts the JIT trace, and the Node hub's profile over (support/cpu-profile.mjs).
  if (jitTrace || (profile && runtime === 'node')) process.kill(hub.pid, 'SIGUSR2')
  const before = { hub: threadCpuMs(hub.pid), self: selfCpuMs(), threads: cpuMsByThreadName(hub.pid) }
  const wall = wallShares([['hub', hub.pid], ['load generator', process.pid]])
  const rate = await hubTaskRun({ hubs: [hub], shape, prefix: 'p' })
  const after = threadCpuMs(hub.pid)
  const threads = cpuMsByThreadName(hub.pid)
  process.stdout.write(`${wall()}\n`)
  process.stdout.write(`hub CPU per task: ${perTask(after.all - before.hub.all)} ms ` +
    `(main thread ${perTask(after.main - before.hub.main)}, other threads ${perTask(after.all - after.main - before.hub.all + before.hub.main)}); ` +
    `load generator (this process): ${perTask(selfCpuMs() - before.self)} ms\n`)
  const named = [...threads].map(([name, ms]) => [name, ms - (before.threads.get(name) ?? 0)] as const).filter(([, ms]) => ms > 0)
  process.stdout.write(`  by thread (ms per task, user/system): ${named.sort((a, b) => b[1] - a[1]).map(([name, ms]) => `${name} ${perTask(ms)}`).join(', ')}\n`)
  return rate
}

/**
 * Where the wall time of each process's main thread goes from now until the returned function
 * is called: on a core, runnable but waiting for one (other processes on the machine, or the
 * process's own threads), or idle (waiting for the disk, the network, the other side). Read from
 * /proc/<pid>/task/<pid>/schedstat (ns on a core, ns in the run queue).
 */
function wallShares(threads: [name: string, pid: number][]): () => string {
  const sched = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ').map(Number)
  const from = threads.map(([, pid]) => sched(pid))
  const at = performance.now()
  return () => {
    const wallNs = (performance.now() - at) * 1e6
    return `main threads' wall time: ${threads.map(([name, pid], i) => {
      const [run, wait] = sched(pid).map((ns, j) => ns - from[i][j])
      return `${name} on a core ${pct(run, wallNs)}, waiting for one ${pct(wait, wallNs)}, idle ${pct(wallNs - run - wait, wallNs)}`
    }).join('; ')}`
  }
}


function pct(part: number, whole: number): string {
  return `${((100 * part) / whole).toFixed(0)} %`
}

function perTask(ms: number): string {
  return (ms / shape.tasks).toFixed(3)
}

/** CPU ms of the whole process and of its main thread. */
function threadCpuMs(pid: number): { all: number; main: number } {
  const all = statCpuMs(`/proc/${pid}/stat`)
  const main = readdirSync(`/proc/${pid}/task`).includes(String(pid)) ? statCpuMs(`/proc/${pid}/task/${pid}/stat`) : all
  return { all, main }
}

function selfCpuMs(): number {
  const used = process.cpuUsage()
  return (used.user + used.system) / 1000
}

/** Counters of the whole server, to divide by the tasks a run added. */
async function databaseCounters(databaseUrl: string) {
  const { connectDatabase } = await import('../hub/pg/connect.ts')
  const sql = connectDatabase(databaseUrl, { max: 1 })
  try {
    const [row] = await sql<{ commits: string; inserts: string; event_inserts: string; updates: string; wal: string }[]>`
      SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS commits,
        (SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_user_tables) AS inserts,
        (SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_user_tables WHERE relname = 'events') AS event_inserts,
        (SELECT coalesce(sum(n_tup_upd), 0) FROM pg_stat_user_tables) AS updates,
        pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') AS wal`
    return { commits: Number(row.commits), inserts: Number(row.inserts), eventInserts: Number(row.event_inserts), updates: Number(row.updates), walBytes: Number(row.wal) }
  } finally {
    await sql.end()
  }
}

/** Asks the Deno hub's profiler for its profile (cpu-profile-deno.mjs) and waits until it is written. */
async function denoProfile(pid: number): Promise<void> {
  process.kill(pid, 'SIGUSR2')
  const file = join(out, `hub-${pid}.cpuprofile`)
  for (let waited = 0; waited < 30_000 && !existsSync(file); waited += 100) await new Promise((r) => setTimeout(r, 100))
  // Written in one synchronous call: give it a moment to finish after the name appears.
  await new Promise((r) => setTimeout(r, 500))
}
