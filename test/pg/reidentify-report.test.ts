/**
 * A sidecar that crashed with a task comes back, identifies with it as its active task, and
 * reports it interrupted at once. Its reports must follow the identify's reconcile: an
 * interruption saved before the reconcile adopted the task (the two ran side by side) was
 * undone by the adopt, leaving the task `working` on an agent that no longer had it, and the
 * agent out of dispatch, until the task's timeout (found by `npm run chaos`, seed 2026).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { agentOn, startClusterHub, type TestHub } from '../../support/cluster-hubs.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'
import type { Sql } from '../../hub/pg/connect.ts'
import { createLogger } from '../../shared/log.ts'
import { waitFor } from '../../support/wait.ts'

let db: TestDatabase
let sql: Sql
let hub: TestHub
const logs: string[] = []

beforeAll(async () => {
  db = await createTestDatabase()
  sql = db.connect({ max: 2 })
  // A long grace: the sweep must not requeue the task while the agent is away for a moment.
  hub = await startClusterHub(db.url, 'hub-r', { hub: { taskGraceMs: 60_000, log: createLogger('hub', (line) => logs.push(line)) } })
})

afterAll(async () => {
  await hub?.stop()
  await db?.drop()
})

/** Statements of this test's database waiting on a lock, by their text. */
const waitingOnLocks = () => sql<{ query: string }[]>`SELECT query FROM pg_stat_activity
  WHERE datname = ${db.name} AND wait_event_type = 'Lock'`

describe('a re-identified sidecar reporting its active task', () => {
  it('an interruption reported right after identify requeues the task, whatever the reconcile is doing', async () => {
    const first = await agentOn(hub, 'r-1')
    const task = (await hub.api('POST', '/tasks', { input: { n: 1 }, agent_id: 'r-1' })).body
    expect((await first.next('task_assign')).task_id).toBe(task.task_id)
    first.send({ type: 'task_accepted', task_id: task.task_id })
    await waitFor(() => hub.api('GET', `/tasks/${task.task_id}`), (r) => r.body.status === 'working', { what: 'working' })
    first.close()
    await waitFor(() => hub.api('GET', '/agents/r-1'), (r) => r.body.connected === false, { what: 'r-1 gone' })

    // The tasks table held still while the sidecar comes back: the reconcile's read and the
    // interruption's requeue both wait, and then run in whatever order the database picks.
    let release!: () => void
    const released = new Promise<void>((resolve) => (release = resolve))
    let locked!: () => void
    const isLocked = new Promise<void>((resolve) => (locked = resolve))
    const holding = sql.begin(async (tx) => {
      await tx`LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE`
      locked()
      await released
    })
    await isLocked
    try {
      const back = await agentOn(hub, 'r-1', { active_task_id: task.task_id })
      back.send({ type: 'task_interrupted', task_id: task.task_id, reason: 'sidecar crashed' })
      // The reconcile's read waits on the table, and the hub has the interruption in hand.
      await waitFor(waitingOnLocks, (rows) => rows.some((r) => r.query.includes('ORDER BY seq')), { what: 'the reconcile waiting' })
      await waitFor(async () => logs, (lines) => lines.some((l) => l.includes('"task interrupted"') && l.includes(task.task_id)), { what: 'the interruption received' })
      // A hub that saves it beside the reconcile sends its requeue now: let it reach the table
      // (bounded: a hub that waits for the reconcile sends nothing yet).
      await waitFor(waitingOnLocks, (rows) => rows.some((r) => r.query.includes('attempts = greatest')), { what: 'the requeue', timeoutMs: 2000 }).catch(() => undefined)
      release()
      await holding
      expect(await back.next('task_ack')).toEqual({ type: 'task_ack', task_id: task.task_id })
      // Queued again and, the agent being free, given to it again.
      expect((await back.next('task_assign')).task_id).toBe(task.task_id)
      expect((await hub.api('GET', `/tasks/${task.task_id}`)).body).toMatchObject({ status: 'assigned', agent_id: 'r-1', attempts: 2 })
      back.close()
    } finally {
      release()
      await holding.catch(() => undefined)
    }
  })
})
