/**
 * The queues a Node team would pick instead, run on this machine with the same load shape as
 * the hub (task-load.ts): BullMQ on a local redis-server that fsyncs every write (as durable as
 * the hub's saves), and pg-boss on the PostgreSQL a cluster already has. Each reports which
 * versions it measured.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { createRequire } from 'node:module'
import { Queue, Worker } from 'bullmq'
import PgBoss from 'pg-boss'
import { stopChild } from '../../support/hub-process.ts'
import { onInterrupt } from './cleanup.ts'
import { countdown, submitAll, type LoadShape } from './task-load.ts'
import { freePort } from '../../support/free-port.ts'

const require = createRequire(import.meta.url)
export const BULLMQ_VERSION: string = require('bullmq/package.json').version
export const PG_BOSS_VERSION: string = require('pg-boss/package.json').version
/** pg-boss's wait after a fetch that found nothing: short, so it is not the measure. */
const EMPTY_FETCH_WAIT_MS = 5

export interface Redis {
  port: number
  /** e.g. "7.0.15" */
  version: string
  pid: number
  stop(): Promise<void>
}

/** redis-server on a free port, appending every write and fsyncing it before it answers. */
export async function startRedis(): Promise<Redis> {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  if (probe.error) throw new Error('redis-server is not installed (Debian: apt-get install -y redis-server); .ci/run installs it')
  const version = /v=(\S+)/.exec(probe.stdout)?.[1] ?? 'unknown'
  const dir = await mkdtemp(join(tmpdir(), 'agentcom-redis-'))
  const port = await freePort()
  const child = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', 'yes', '--appendfsync', 'always',
  ], { stdio: ['ignore', 'pipe', 'inherit'] })
  const stop = async () => {
    await stopChild(child)
    await rm(dir, { recursive: true, force: true })
  }
  const release = onInterrupt(stop)
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('Ready to accept connections')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)))
  })
  return { port, version, pid: child.pid!, stop: async () => (release(), await stop()) }
}

/** Tasks/s through BullMQ: `workers` Workers of concurrency 1, each on its own connection, one `add` per job. */
export async function bullmqRun(redis: Redis, shape: LoadShape, name: string): Promise<number> {
  const connection = { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null }
  const queue = new Queue(name, { connection })
  const completed = countdown(shape.tasks, 'BullMQ jobs completed')
  const workers = Array.from({ length: shape.workers }, () => {
    const worker = new Worker(name, async () => null, { connection, concurrency: 1 })
    worker.on('completed', () => completed.tick())
    worker.on('error', (err) => process.stderr.write(`  bullmq worker: ${String(err)}\n`))
    return worker
  })
  try {
    await Promise.all(workers.map((w) => w.waitUntilReady()))
    const started = performance.now()
    await submitAll(shape.tasks, shape.inFlight, async (i) => {
      await queue.add('task', { n: i })
    })
    await completed.done
    return shape.tasks / ((performance.now() - started) / 1000)
  } finally {
    await Promise.all(workers.map((w) => w.close(true)))
    await queue.obliterate({ force: true }).catch(() => undefined)
    await queue.close()
  }
}

/**
 * Tasks/s through pg-boss: `workers` loops that each fetch one job and complete it (its
 * documented fetch/complete pair, which does not wait for a polling interval), `send` per job.
 */
export async function pgBossRun(databaseUrl: string, shape: LoadShape, name: string): Promise<number> {
  const boss = new PgBoss({ connectionString: databaseUrl, schedule: false, supervise: false })
  boss.on('error', (err) => process.stderr.write(`  pg-boss: ${String(err)}\n`))
  await boss.start()
  await boss.createQueue(name)
  const completed = countdown(shape.tasks, 'pg-boss jobs completed')
  let submitting = true
  const workerLoop = async (): Promise<void> => {
    while (completed.left > 0) {
      const [job] = await boss.fetch(name)
      if (!job) {
        if (!submitting && completed.left === 0) return
        await new Promise((resolve) => setTimeout(resolve, EMPTY_FETCH_WAIT_MS))
        continue
      }
      await boss.complete(name, job.id)
      completed.tick()
    }
  }
  try {
    const started = performance.now()
    const working = Promise.all(Array.from({ length: shape.workers }, workerLoop))
    await submitAll(shape.tasks, shape.inFlight, async (i) => {
      await boss.send(name, { n: i })
    })
    submitting = false
    await Promise.race([completed.done, working.then(() => completed.done)])
    return shape.tasks / ((performance.now() - started) / 1000)
  } finally {
    await boss.stop({ graceful: false, wait: true })
  }
}

