/**
 * Runs under pm2 for self_query_stall (started by self-query-stall.ts, never by hand). In this
 * process, as in a sidecar, it times the event loop's longest delay while the sidecar's own
 * `getInfo()` runs (built exactly as sidecar/main.ts builds it), and while the seed's
 * `JSON.parse(execSync('pm2 jlist'))` runs, alternately. Writes the samples to BENCH_OUT.
 */
import { execSync } from 'node:child_process'
import { renameSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { silentLogger } from '../../shared/log.ts'
import { systemClock } from '../../shared/time.ts'
import { execRunner } from '../../sidecar/exec-runner.ts'
import { createPm2Adapter } from '../../sidecar/pm2.ts'

export interface ProbeSample {
  stallMs: number
  durationMs: number
}

export interface ProbeOutput {
  getInfo: ProbeSample[]
  execSync: ProbeSample[]
  processes: number
  jlistBytes: number
}

const rounds = Number(process.env.BENCH_ROUNDS ?? 5)
const out = process.env.BENCH_OUT
if (!out || process.env.pm_id === undefined) {
  process.stderr.write('self-query-probe runs under pm2, started by bench/figures/self-query-stall.ts\n')
  process.exit(2)
}

const pm2Bin = createRequire(import.meta.url).resolve('pm2/bin/pm2')
const pm2 = createPm2Adapter({
  runner: execRunner, env: process.env, pid: process.pid, log: silentLogger, clock: systemClock,
  pm2Command: [process.execPath, pm2Bin],
})
/** The seed's design: a synchronous jlist in the sidecar's own process. */
function seedGetInfo() {
  const stdout = execSync(`"${process.execPath}" "${pm2Bin}" jlist`, { env: { ...process.env, PM2_SILENT: 'true' }, maxBuffer: 64 * 1024 * 1024 })
  const list = JSON.parse(stdout.toString()) as Array<{ pm_id: number }>
  return { self: list.find((p) => String(p.pm_id) === process.env.pm_id), bytes: stdout.length, processes: list.length }
}

const delay = monitorEventLoopDelay({ resolution: 1 })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function sample(run: () => unknown): Promise<ProbeSample> {
  await sleep(50)
  delay.reset()
  delay.enable()
  await sleep(10)
  const started = performance.now()
  await run()
  const durationMs = performance.now() - started
  // One more turn of the loop, so that the delay of a blocking call is recorded.
  await sleep(10)
  delay.disable()
  return { stallMs: delay.max / 1e6, durationMs }
}

async function measure(): Promise<ProbeOutput> {
  // One untimed call each: the first spawn pays for cold caches on both sides.
  if (!(await pm2.getInfo())) throw new Error('getInfo() found no pm2 info')
  const { bytes, processes } = seedGetInfo()
  const result: ProbeOutput = { getInfo: [], execSync: [], processes, jlistBytes: bytes }
  for (let i = 0; i < rounds; i++) {
    result.getInfo.push(await sample(() => pm2.getInfo()))
    result.execSync.push(await sample(() => seedGetInfo()))
  }
  return result
}

// The file is written whole, once: the bench polls for it.
const written = await measure().then(
  (result) => JSON.stringify(result),
  (err: unknown) => JSON.stringify({ error: err instanceof Error ? err.message : String(err) }),
)
writeFileSync(`${out}.tmp`, written)
renameSync(`${out}.tmp`, out)
