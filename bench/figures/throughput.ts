/**
 * Task throughput against the queues a team would pick instead, with one load shape
 * (task-load.ts: W workers that complete each task at once, N submissions with 32 in flight,
 * one per task), medians of alternating runs, every server started here:
 * - task_throughput: one hub on its file store against BullMQ on a redis-server that fsyncs
 *   every write (`appendfsync always`, as durable as the hub's saves). Target >= 0.5.
 * - task_throughput_scaling: one hub at 4 N against the same hub at N: the cost of a task must
 *   not grow with the tasks the hub keeps. Target >= 0.9.
 * - cluster_task_throughput: one hub in cluster mode against pg-boss on the same PostgreSQL
 *   server. Target >= 1.0.
 */
import type { BenchSizes } from '../config.ts'
import type { Runtime } from '../../support/hub-process.ts'
import { figureName, starter, withServer } from '../support/fleet.ts'
import { withClusterHub } from '../support/cluster.ts'
import { STEADY_WARM_UP_TASKS, hubTaskRun, type LoadShape } from '../support/task-load.ts'
import { BULLMQ_VERSION, PG_BOSS_VERSION, bullmqRun, pgBossRun, startRedis, type Redis } from '../support/peers.ts'
import { makeResult, type Result } from '../support/report.ts'
import { median } from '../support/stats.ts'

const WORKERS = 50
const IN_FLIGHT = 32

const shapeOf = (sizes: BenchSizes, scale = 1): LoadShape =>
  ({ workers: WORKERS, tasks: (sizes.quick ? 1000 : 5000) * scale, inFlight: IN_FLIGHT })
const roundsOf = (sizes: BenchSizes) => (sizes.quick ? 1 : 3)
const shapeLine = (shape: LoadShape, rounds: number, warmUp?: LoadShape) =>
  `W=${shape.workers}, N=${shape.tasks}, ${shape.inFlight} in flight, ${warmUp ? `after ${warmUp.tasks} untimed, ` : ''}median of ${rounds} alternating runs`

/**
 * Tasks run untimed on each side before its timed run, so that each side is measured as it runs
 * for days, not as it starts: 10 000, the hub's default cap on the finished tasks it keeps
 * (DEFAULTS.maxFinishedTasks), so its table is full and every task finished in the timed run
 * also forgets one (its costlier state), and V8 has compiled the hub's per-task code. After the
 * earlier N / 5 (at most 1 000) the hub's compiler threads still took about a fifth of its CPU
 * in the timed run (perf), which a running hub no longer pays, while BullMQ's client code lives
 * in this process and was warm from the second run on (docs/benchmarks.md, round 7). BullMQ gets
 * the same warm-up on a queue of its own.
 */
const warmUpOf = (shape: LoadShape): LoadShape => ({ ...shape, tasks: STEADY_WARM_UP_TASKS })
/**
 * task_throughput_scaling keeps the short warm-up: it compares a hub at 4 N with one at N, and
 * starting both with a full table would hide the growth it is there to catch.
 */
const shortWarmUpOf = (shape: LoadShape): LoadShape => ({ ...shape, tasks: Math.min(1000, shape.tasks / 5) })

/** One fresh hub (file store) per run, warmed by `warmUp` untimed tasks first: a run's tasks never weigh on the next. */
async function singleHubRun(runtime: Runtime, shape: LoadShape, prefix: string, warmUp: LoadShape): Promise<number> {
  return withServer(starter('hub', runtime), async (hub) => {
    await hubTaskRun({ hubs: [hub], shape: warmUp, prefix: `${prefix}w` })
    return hubTaskRun({ hubs: [hub], shape, prefix })
  })
}

async function warmBullmqRun(redis: Redis, shape: LoadShape, name: string): Promise<number> {
  await bullmqRun(redis, warmUpOf(shape), `${name}-warm-up`)
  return bullmqRun(redis, shape, name)
}

export async function taskThroughput(sizes: BenchSizes, runtime: Runtime, log: (line: string) => void): Promise<Result[]> {
  const shape = shapeOf(sizes)
  const rounds = roundsOf(sizes)
  const redis = await startRedis()
  try {
    const hub: number[] = []
    const bullmq: number[] = []
    for (let round = 0; round < rounds; round++) {
      const sides = [
        async () => hub.push(await singleHubRun(runtime, shape, `r${round}`, warmUpOf(shape))),
        async () => bullmq.push(await warmBullmqRun(redis, shape, `bench-${round}`)),
      ]
      for (const side of round % 2 === 0 ? sides : sides.reverse()) await side()
    }
    log(`task_throughput (${runtime}): hub ${hub.map((x) => x.toFixed(0)).join(', ')}/s; BullMQ ${bullmq.map((x) => x.toFixed(0)).join(', ')}/s`)
    return [makeResult({
      name: figureName('task_throughput', runtime), unit: 'tasks/s', runtime, value: median(hub),
      baseline: `BullMQ ${BULLMQ_VERSION} on redis-server ${redis.version} (appendfsync always)`, baseline_value: median(bullmq),
      detail: shapeLine(shape, rounds, warmUpOf(shape)),
    }, { kind: 'min', ratio: 0.5 })]
  } finally {
    await redis.stop()
  }
}

export async function taskThroughputScaling(sizes: BenchSizes, runtime: Runtime, log: (line: string) => void): Promise<Result[]> {
  const small = shapeOf(sizes)
  const large = shapeOf(sizes, 4)
  const rounds = roundsOf(sizes)
  const atSmall: number[] = []
  const atLarge: number[] = []
  for (let round = 0; round < rounds; round++) {
    const sides = [
      async () => atSmall.push(await singleHubRun(runtime, small, `s${round}`, shortWarmUpOf(small))),
      async () => atLarge.push(await singleHubRun(runtime, large, `l${round}`, shortWarmUpOf(large))),
    ]
    for (const side of round % 2 === 0 ? sides : sides.reverse()) await side()
  }
  log(`task_throughput_scaling (${runtime}): N=${small.tasks} ${atSmall.map((x) => x.toFixed(0)).join(', ')}/s; N=${large.tasks} ${atLarge.map((x) => x.toFixed(0)).join(', ')}/s`)
  return [makeResult({
    name: figureName('task_throughput_scaling', runtime), unit: 'tasks/s', runtime, value: median(atLarge),
    baseline: `the same hub at N=${small.tasks}`, baseline_value: median(atSmall),
    detail: `${shapeLine(large, rounds, shortWarmUpOf(large))}; baseline N=${small.tasks}`,
  }, { kind: 'min', ratio: 0.9 })]
}

export async function clusterTaskThroughput(sizes: BenchSizes, runtime: Runtime, log: (line: string) => void): Promise<Result[]> {
  const shape = shapeOf(sizes)
  const rounds = roundsOf(sizes)
  return withClusterHub(runtime, async ({ hub, process, databaseUrl }) => {
    const hubErrors = () => process.logs.filter((line) => line.includes('"level":"error"'))
    const agentcom: number[] = []
    const pgBoss: number[] = []
    for (let round = 0; round < rounds; round++) {
      const sides = [
        async () => agentcom.push(await hubTaskRun({ hubs: [hub], shape, prefix: `c${round}`, hubErrors })),
        async () => pgBoss.push(await pgBossRun(databaseUrl, shape, `bench-${round}`)),
      ]
      for (const side of round % 2 === 0 ? sides : sides.reverse()) await side()
    }
    const server = await serverVersion(databaseUrl)
    log(`cluster_task_throughput (${runtime}): hub ${agentcom.map((x) => x.toFixed(0)).join(', ')}/s; pg-boss ${pgBoss.map((x) => x.toFixed(0)).join(', ')}/s`)
    return [makeResult({
      name: figureName('cluster_task_throughput', runtime), unit: 'tasks/s', runtime, value: median(agentcom),
      baseline: `pg-boss ${PG_BOSS_VERSION} (fetch + complete per job) on PostgreSQL ${server}`, baseline_value: median(pgBoss),
      detail: shapeLine(shape, rounds),
    }, { kind: 'min', ratio: 1.0 })]
  })
}

async function serverVersion(databaseUrl: string): Promise<string> {
  const { connectDatabase } = await import('../../hub/pg/connect.ts')
  const sql = connectDatabase(databaseUrl, { max: 1 })
  try {
    const [row] = await sql<{ server_version: string }[]>`SHOW server_version`
    return row.server_version
  } finally {
    await sql.end()
  }
}
