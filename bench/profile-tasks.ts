/**
 * `node --import tsx bench/profile-tasks.ts single|cluster [N] [dir]`: the task_throughput load
 * (task-load.ts, W = 50, 32 in flight) against one hub on Node run under the CPU profiler, the
 * profile written to `dir` when the hub exits; prints tasks/s. For the profiles
 * docs/benchmarks.md quotes, beside the figure's own ratio.
 */
import { mkdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import { readFileSync } from 'node:fs'
import { startHub, type ServerUnderTest } from './support/servers.ts'
import { withClusterHub } from './support/cluster.ts'
import { hubTaskRun, type LoadShape } from './support/task-load.ts'

const [mode = 'single', n = '5000', dir = 'bench/results/profiles'] = process.argv.slice(2)
const shape: LoadShape = { workers: 50, tasks: Number(n), inFlight: 32 }
const out = resolve(dir)
await mkdir(out, { recursive: true })
// Inherited by the hub processes started below (support/hub-process.ts passes process.env on);
// Node refuses --cpu-prof there, so a preload starts the same profiler (support/cpu-profile.mjs).
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import ${resolve(import.meta.dirname, 'support/cpu-profile.mjs')}`.trim()
process.env.AGENTCOM_CPU_PROFILE_DIR = out
let perSecond: number
if (mode === 'cluster') {
  perSecond = await withClusterHub('node', async ({ hub, databaseUrl }) => {
    const before = await databaseCounters(databaseUrl)
    const rate = await timedRun(hub)
    // The statistics reach the views within a second of a backend going idle.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const after = await databaseCounters(databaseUrl)
    const per = (key: keyof typeof after) => ((after[key] - before[key]) / shape.tasks).toFixed(2)
    process.stdout.write(`per task: ${per('commits')} commits, ${per('inserts')} inserts (${per('eventInserts')} events), ` +
      `${per('updates')} updates, ${per('walBytes')} WAL bytes\n`)
    return rate
  })
} else {
  const hub = await startHub('node')
  try {
    perSecond = await timedRun(hub)
  } finally {
    await hub.stop()
  }
}
process.stdout.write(`${mode}: ${shape.tasks} tasks, ${perSecond.toFixed(0)}/s; profile in ${out}\n`)

/** One run, and the hub's CPU time per task it took (user + system, from /proc). */
async function timedRun(hub: ServerUnderTest): Promise<number> {
  const cpu0 = cpuMs(hub.pid)
  const rate = await hubTaskRun({ hubs: [hub], shape, prefix: 'p' })
  process.stdout.write(`hub CPU per task: ${((cpuMs(hub.pid) - cpu0) / shape.tasks).toFixed(3)} ms\n`)
  return rate
}

function cpuMs(pid: number): number {
  // Fields 14 and 15 of /proc/<pid>/stat, after the command name in parentheses, in clock ticks (100 Hz).
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
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
