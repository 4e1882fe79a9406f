import { describe, expect, it } from 'vitest'
import type { Sql } from '../../hub/pg/connect.ts'
import { claimAgent, renewLease } from '../../hub/pg/presence-rows.ts'
import { adoptTask, claimTasks, getTask, insertTask, overdueTasks, requeueTask, startTask, type Outcome, type TaskRow } from '../../hub/pg/task-queue.ts'
import { finishTask } from '../../hub/pg/task-reports.ts'
import { useMigratedDatabase, type TestDatabase } from '../../support/test-database.ts'
import { waitFor } from '../../support/wait.ts'

const HELLO = { pm2_info: null, supervised: true, instance_id: null }
const LONG_LEASE_MS = 60_000

describe('task queue', () => {
  let db: TestDatabase
  let sql: Sql
  useMigratedDatabase(['tasks', 'agents', 'hubs'], (database, client) => {
    db = database
    sql = client
  })

  /** Puts agents on hubs, each hub holding a long lease. */
  async function connect(placement: Record<string, string>): Promise<void> {
    for (const hubId of new Set(Object.values(placement))) await renewLease(sql, hubId, LONG_LEASE_MS)
    for (const [agentId, hubId] of Object.entries(placement)) {
      expect(await claimAgent(sql, { hubId, agentId, connectionId: `${agentId}-conn`, hello: HELLO })).toMatchObject({ ok: true })
    }
  }

  /** One agent's claim (claimTasks for a group of one): the task it was given, or null. */
  async function claimOne(client: Sql, agentId: string, hubId: string): Promise<TaskRow | null> {
    return (await claimTasks(client, [agentId], hubId)).rows[0] ?? null
  }

  /** Whether the agent's outcome applied (finishTask). */
  async function completeTask(client: Sql, taskId: string, agentId: string, outcome: Outcome): Promise<boolean> {
    return (await finishTask(client, taskId, agentId, outcome)) !== null
  }

  async function insert(taskId: string, pinned: string | null = null, timeoutMs = LONG_LEASE_MS): Promise<TaskRow> {
    return insertTask(sql, { task_id: taskId, input: { n: taskId }, pinned, timeout_ms: timeoutMs })
  }

  it('many claimers on several connections: every task is claimed exactly once, pinned ones by their agent', async () => {
    const agents = ['a0', 'a1', 'a2', 'a3', 'a4', 'a5']
    await connect(Object.fromEntries(agents.map((a, i) => [a, i % 2 === 0 ? 'hub-1' : 'hub-2'])))
    const TASKS = 120
    for (let i = 0; i < TASKS; i++) await insert(`t${i}`, i % 12 === 0 ? 'a3' : null)
    const claims: { task_id: string; agent: string }[] = []
    await Promise.all(agents.map(async (agent, i) => {
      const client = db.connect({ max: 2 })
      const hubId = i % 2 === 0 ? 'hub-1' : 'hub-2'
      for (;;) {
        const task = await claimOne(client, agent, hubId)
        if (!task) break
        expect(task).toMatchObject({ status: 'assigned', agent_id: agent, hub_id: hubId, attempts: 1 })
        claims.push({ task_id: task.task_id, agent })
        expect(await completeTask(client, task.task_id, agent, { ok: true, result: { by: agent } })).toBe(true)
      }
    }))
    expect(claims).toHaveLength(TASKS)
    expect(new Set(claims.map((c) => c.task_id)).size).toBe(TASKS)
    expect(claims.filter((c) => Number(c.task_id.slice(1)) % 12 === 0).every((c) => c.agent === 'a3')).toBe(true)
    const rows = await sql<{ status: string; attempts: number; agent_id: string; by: string }[]>`
      SELECT status, attempts, agent_id, result->>'by' AS by FROM tasks`
    expect(rows.every((r) => r.status === 'completed' && r.attempts === 1 && r.by === r.agent_id)).toBe(true)
    expect(new Set(claims.map((c) => c.agent)).size).toBeGreaterThan(1)
  })

  it('an outcome is stored once: of two concurrent reports, one applies', async () => {
    await connect({ a0: 'hub-1' })
    await insert('t1')
    await claimOne(sql, 'a0', 'hub-1')
    const other = db.connect()
    const applied = await Promise.all([
      completeTask(sql, 't1', 'a0', { ok: true, result: 'first' }),
      completeTask(other, 't1', 'a0', { ok: false, error: 'second' }),
    ])
    expect([...applied].sort()).toEqual([false, true])
    expect(await completeTask(sql, 't1', 'a0', { ok: true, result: 'late' })).toBe(false)
    expect(await getTask(sql, 't1')).toMatchObject(applied[0]
      ? { status: 'completed', result: 'first', error: null }
      : { status: 'failed', result: null, error: 'second' })
  })

  it("refuses a former owner's late result once another agent holds the task", async () => {
    await connect({ a0: 'hub-1', a1: 'hub-2' })
    await insert('t1')
    expect((await claimOne(sql, 'a0', 'hub-1'))!.task_id).toBe('t1')
    expect(await requeueTask(sql, 't1', { agentId: 'a0', maxAttempts: 3 })).toMatchObject({ status: 'queued', agent_id: null, attempts: 1 })
    expect(await claimOne(sql, 'a1', 'hub-2')).toMatchObject({ task_id: 't1', agent_id: 'a1', attempts: 2 })
    expect(await completeTask(sql, 't1', 'a0', { ok: true, result: 'stale' })).toBe(false)
    expect(await completeTask(sql, 't1', 'a1', { ok: true, result: 'fresh' })).toBe(true)
    expect(await getTask(sql, 't1')).toMatchObject({ status: 'completed', agent_id: 'a1', result: 'fresh' })
  })

  it('takes a result for a task queued again and not yet claimed, but not from an agent it is not pinned to', async () => {
    await connect({ a0: 'hub-1', a1: 'hub-1' })
    await insert('free')
    await claimOne(sql, 'a0', 'hub-1')
    await requeueTask(sql, 'free', { agentId: 'a0', maxAttempts: 3 })
    expect(await completeTask(sql, 'free', 'a0', { ok: true, result: 1 })).toBe(true)
    await insert('pinned', 'a1')
    expect(await completeTask(sql, 'pinned', 'a0', { ok: true, result: 2 })).toBe(false)
    expect(await getTask(sql, 'pinned')).toMatchObject({ status: 'queued', result: null })
  })

  it('takes an outcome or an adoption only from the agent the task was last given to', async () => {
    await connect({ a0: 'hub-1', a1: 'hub-1' })
    await insert('never-given')
    expect(await completeTask(sql, 'never-given', 'a1', { ok: true, result: 'forged' })).toBe(false)
    expect(await adoptTask(sql, 'never-given', 'a1', 'hub-1')).toBe(false)
    await claimOne(sql, 'a0', 'hub-1')
    await requeueTask(sql, 'never-given', { agentId: 'a0', maxAttempts: 3 })
    expect(await completeTask(sql, 'never-given', 'a1', { ok: true, result: 'forged' })).toBe(false)
    expect(await adoptTask(sql, 'never-given', 'a1', 'hub-1')).toBe(false)
    expect(await getTask(sql, 'never-given')).toMatchObject({ status: 'queued', result: null })
    expect(await adoptTask(sql, 'never-given', 'a0', 'hub-1')).toBe(true)
    expect(await completeTask(sql, 'never-given', 'a0', { ok: true, result: 'real' })).toBe(true)
    expect(await getTask(sql, 'never-given')).toMatchObject({ status: 'completed', result: 'real', agent_id: 'a0' })
  })

  it('requeue: only by the holder; fails the task after maxAttempts; a refusal before start is no attempt', async () => {
    await connect({ a0: 'hub-1', a1: 'hub-1' })
    await insert('t1')
    await claimOne(sql, 'a0', 'hub-1')
    expect(await requeueTask(sql, 't1', { agentId: 'a1', maxAttempts: 2 })).toBeNull()
    expect(await requeueTask(sql, 't1', { agentId: 'a0', maxAttempts: 2, counted: false })).toMatchObject({ status: 'queued', attempts: 0 })
    await claimOne(sql, 'a0', 'hub-1')
    expect(await requeueTask(sql, 't1', { agentId: 'a0', maxAttempts: 2 })).toMatchObject({ status: 'queued', attempts: 1 })
    await claimOne(sql, 'a0', 'hub-1')
    expect(await requeueTask(sql, 't1', { agentId: 'a0', maxAttempts: 2 })).toMatchObject({
      status: 'failed', attempts: 2, agent_id: 'a0', error: 'interrupted 2 times',
    })
    expect(await claimOne(sql, 'a0', 'hub-1')).toBeNull()
  })

  it('two requeues of one task at once, on two connections: one applies, its attempt counted once', async () => {
    await connect({ a0: 'hub-1' })
    await insert('t1')
    await claimOne(sql, 'a0', 'hub-1')
    const other = db.connect()
    const rows = await Promise.all([
      requeueTask(sql, 't1', { agentId: 'a0', maxAttempts: 3, counted: false }),
      requeueTask(other, 't1', { agentId: 'a0', maxAttempts: 3, counted: false }),
    ])
    expect(rows.filter((r) => r !== null)).toHaveLength(1)
    expect(await getTask(sql, 't1')).toMatchObject({ status: 'queued', attempts: 0 })
  })

  it('a failure resent on two connections at once: queued for its retry once', async () => {
    await connect({ a0: 'hub-1' })
    await insertTask(sql, { task_id: 't1', input: null, pinned: null, timeout_ms: LONG_LEASE_MS, extras: { labels: [], retries: 2, retry_delay_ms: 60_000 } })
    await claimOne(sql, 'a0', 'hub-1')
    const other = db.connect()
    const applied = await Promise.all([
      completeTask(sql, 't1', 'a0', { ok: false, error: 'boom' }),
      completeTask(other, 't1', 'a0', { ok: false, error: 'boom' }),
    ])
    expect([...applied].sort()).toEqual([false, true])
    expect(await getTask(sql, 't1')).toMatchObject({ status: 'queued', retried: 1, error: 'boom', agent_id: null })
  })

  it('claims only for an agent this hub holds, under a live lease, with no task in flight', async () => {
    await connect({ a0: 'hub-1', a1: 'hub-2' })
    await insert('t1')
    await insert('t2')
    expect(await claimOne(sql, 'a1', 'hub-1')).toBeNull()
    expect(await claimOne(sql, 'ghost', 'hub-1')).toBeNull()
    expect((await claimOne(sql, 'a0', 'hub-1'))!.task_id).toBe('t1')
    expect(await claimOne(sql, 'a0', 'hub-1')).toBeNull()
    await sql`UPDATE hubs SET lease_until = now() WHERE hub_id = 'hub-2'`
    expect(await claimOne(sql, 'a1', 'hub-2')).toBeNull()
    expect(await getTask(sql, 't2')).toMatchObject({ status: 'queued', attempts: 0 })
  })

  it('start moves an assigned task to working for its holder only; overdue is read on the database clock', async () => {
    await connect({ a0: 'hub-1', a1: 'hub-1' })
    await insert('fast', 'a0', 1)
    await insert('slow', 'a1')
    await claimOne(sql, 'a0', 'hub-1')
    await claimOne(sql, 'a1', 'hub-1')
    expect(await startTask(sql, 'fast', 'a1')).toBe(false)
    expect(await startTask(sql, 'fast', 'a0')).toBe(true)
    const overdue = await waitFor(() => overdueTasks(sql), (rows) => rows.length > 0, { what: 'an overdue task' })
    expect(overdue.map((t) => [t.task_id, t.status])).toEqual([['fast', 'working']])
    const fast = overdue[0]
    expect(fast.deadline_at! - fast.assigned_at!).toBe(1)
  })

  it('refuses a duplicate task id and keeps the first', async () => {
    await insert('t1')
    await expect(insert('t1')).rejects.toThrow(/duplicate key value violates unique constraint "tasks_pkey"/)
    expect((await sql`SELECT count(*)::int AS n FROM tasks`)[0].n).toBe(1)
  })
})
