/**
 * The cluster modules run on Deno as they are (postgres.js from node_modules, deno.json's
 * nodeModulesDir "manual"), so a Deno hub can join a cluster of Node hubs.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ALL_HUBS, createPgBus } from '../../hub/pg/notify-bus.ts'
import { insertTask } from '../../hub/pg/task-queue.ts'
import { migrate } from '../../hub/pg/migrate.ts'
import { MIGRATIONS } from '../../hub/pg/schema.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'

const ROOT = join(import.meta.dirname, '..', '..')

describe('cluster modules on Deno', () => {
  let db: TestDatabase
  let child: ChildProcess | null = null
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL')
    await db.drop()
  })

  it('migrates, claims a task queued from Node, and talks to a Node hub over the bus', async () => {
    const sql = db.connect()
    // Node migrates first; Deno's run must then find nothing to do.
    expect((await migrate(sql)).applied).toEqual(MIGRATIONS.map((m) => m.version))
    await insertTask(sql, { task_id: 'from-node', input: { hello: 'deno' }, pinned: 'w-deno', timeout_ms: 60_000 })
    const nodeBus = await createPgBus(sql, { hubId: 'hub-node' })
    const pong = new Promise<{ runtime: unknown; from: string }>((resolve) => {
      nodeBus.subscribe((message, from) => {
        if (message.kind === 'pong') resolve({ runtime: message.runtime, from })
      })
    })

    child = spawn(join(ROOT, 'node_modules/.bin/deno'), [
      'run', '--config', join(ROOT, 'deno.json'), '--allow-net', '--allow-env', '--allow-read',
      join(ROOT, 'test/fixtures/pg/deno-cluster-client.ts'), db.url,
    ], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    const stderr: string[] = []
    createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line))
    const steps: Record<string, unknown>[] = []
    const exited = new Promise<number | null>((resolve) => child!.once('exit', resolve))
    const listening = new Promise<void>((resolve, reject) => {
      createInterface({ input: child!.stdout! }).on('line', (line) => {
        steps.push(JSON.parse(line))
        if (steps.at(-1)!.step === 'listening') resolve()
      })
      void exited.then((code) => reject(new Error(`deno exited with ${code} before listening:\n${stderr.join('\n')}`)))
    })
    await listening
    await nodeBus.publish(ALL_HUBS, { kind: 'ping' })
    expect(await pong).toEqual({ runtime: 'deno', from: 'hub-deno' })
    expect(await exited).toBe(0)
    expect(steps).toEqual([
      { step: 'migrated', version: MIGRATIONS.at(-1)!.version, applied: [] },
      { step: 'claimed', agent: true, task_id: 'from-node' },
      { step: 'listening' },
      { step: 'done' },
    ])
    await nodeBus.close()
  })
})
