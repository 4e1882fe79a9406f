/**
 * `node --import tsx bench/cluster-costs.ts [N] [node|deno]`: what one task costs a cluster hub
 * and its database under the cluster_task_throughput load (task-load.ts: W = 50 raw agents, 32
 * in flight), on an embedded PostgreSQL with pg_stat_statements loaded. After a warm-up of 300
 * tasks it prints, per task of an N-task run: the hub's and the database's CPU time (from
 * /proc: the hub process; the postmaster and its children), commits, rows inserted (and of them
 * into `events`), rows updated and WAL bytes, then the statements the run sent (top level, calls
 * and execution time per task). docs/benchmarks.md quotes it beside the figure's ratios.
 */
import { readdirSync } from 'node:fs'
import { startEmbeddedPostgres } from '../scripts/embedded-postgres.ts'
import { startHubProcess, type Runtime } from '../support/hub-process.ts'
import { connectDatabase } from '../hub/pg/connect.ts'
import { HUB_BENCH_ENV } from './support/servers.ts'
import { hubTaskRun } from './support/task-load.ts'
import { procStat } from './support/proc-cpu.ts'

const [n = '5000', runtime = 'node'] = process.argv.slice(2)
const shape = { workers: 50, tasks: Number(n), inFlight: 32 }
const pg = await startEmbeddedPostgres({ flags: ['-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'pg_stat_statements.track=top'] })
const hub = await startHubProcess({ ...HUB_BENCH_ENV, AGENTCOM_DATABASE_URL: pg.url, AGENTCOM_HUB_ID: 'bench-a' }, runtime as Runtime)
const sql = connectDatabase(pg.url, { max: 1 })
/** utime + stime of a process, in ms, and its parent. */
const stat = (pid: number | string) => {
  const { ppid, userMs, systemMs } = procStat(`/proc/${pid}/stat`)
  return { ppid, cpuMs: userMs + systemMs }
}
try {
  await sql`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`
  const [{ pid }] = await sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`
  const postmaster = stat(pid).ppid
  const databaseCpu = () => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).reduce((sum, d) => {
    try {
      const s = stat(d)
      return Number(d) === postmaster || s.ppid === postmaster ? sum + s.cpuMs : sum
    } catch {
      return sum // gone meanwhile
    }
  }, 0)
  const counters = async () => (await sql<Record<string, number>[]>`SELECT
    (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())::float8 AS commits,
    (SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_user_tables)::float8 AS inserts,
    (SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_user_tables WHERE relname = 'events')::float8 AS event_rows,
    (SELECT coalesce(sum(n_tup_upd), 0) FROM pg_stat_user_tables)::float8 AS updates,
    pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8 AS wal_bytes`)[0]
  const server = { url: hub.url, wsUrl: hub.wsUrl, secret: hub.secret, adminHeaders: { authorization: `Bearer ${await hub.adminToken()}` } }
  await hubTaskRun({ hubs: [server as never], shape: { ...shape, tasks: 300 }, prefix: 'warm' })
  // The statistics reach the views within a second of a backend going idle.
  await new Promise((resolve) => setTimeout(resolve, 1500))
  await sql`SELECT pg_stat_statements_reset()`
  const before = await counters()
  const cpu0 = [stat(hub.child.pid!).cpuMs, databaseCpu()]
  const rate = await hubTaskRun({ hubs: [server as never], shape, prefix: 'p' })
  const cpu1 = [stat(hub.child.pid!).cpuMs, databaseCpu()]
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const after = await counters()
  const per = (x: number) => (x / shape.tasks).toFixed(2)
  process.stdout.write(`${runtime}, ${shape.tasks} tasks, ${rate.toFixed(0)}/s; per task: hub CPU ${per(cpu1[0] - cpu0[0])} ms, ` +
    `database CPU ${per(cpu1[1] - cpu0[1])} ms, ${Object.keys(after).map((k) => `${per(after[k] - before[k])} ${k}`).join(', ')}\n`)
  const statements = await sql<{ calls: string; ms: number; query: string }[]>`
    SELECT calls, total_exec_time AS ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query
    FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat%' ORDER BY calls DESC`
  const calls = statements.reduce((sum, s) => sum + Number(s.calls), 0)
  process.stdout.write(`statements per task: ${per(calls)}\n`)
  for (const s of statements.slice(0, 12)) process.stdout.write(`  ${per(Number(s.calls)).padStart(6)} ${per(s.ms).padStart(6)} ms  ${s.query}\n`)
} finally {
  await sql.end()
  await hub.stop()
  await pg.stop()
}
