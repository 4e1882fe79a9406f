/**
 * The cluster's batched task statements (claimTasks, saveTaskReports, insertTasksNudged, the
 * audit's batched insert) keep the rules of their one-task forms, and WriteBatch commits what
 * comes in while a batch is written together, each answered once its own batch committed.
 */
import { describe, expect, it } from 'vitest'
import type { Sql } from '../../hub/pg/connect.ts'
import { claimAgent, renewLease } from '../../hub/pg/presence-rows.ts'
import { claimTasks, getTask, insertTask, type TaskRow } from '../../hub/pg/task-queue.ts'
import { saveTaskReports, saveTaskReportsOneByOne } from '../../hub/pg/task-reports.ts'
import { insertTasksNudged } from '../../hub/pg/task-insert.ts'
import { createPgAuditStore } from '../../hub/access/audit-pg.ts'
import { WriteBatch } from '../../hub/pg/write-batch.ts'
import { eventsAfter, insertEvents, lastEventId } from '../../hub/pg/event-rows.ts'
import { useMigratedDatabase } from '../../support/test-database.ts'

const HELLO = { pm2_info: null, supervised: true, instance_id: null }
const LONG_LEASE_MS = 60_000

describe('batched task statements', () => {
  let sql: Sql
  useMigratedDatabase(['tasks', 'agents', 'hubs', 'audit', 'events'], (_database, client) => {
    sql = client
  })

  async function connect(hubId: string, agents: string[]): Promise<void> {
    await renewLease(sql, hubId, LONG_LEASE_MS)
    for (const agentId of agents) {
      expect(await claimAgent(sql, { hubId, agentId, connectionId: `${agentId}-conn`, hello: HELLO })).toMatchObject({ ok: true })
    }
  }

  const insert = (taskId: string, pinned: string | null = null): Promise<TaskRow> =>
    insertTask(sql, { task_id: taskId, input: { n: taskId }, pinned, timeout_ms: LONG_LEASE_MS })

  it('claimTasks gives the oldest tasks each agent may run to the agents in order, one each, and says what is left', async () => {
    await connect('hub-1', ['a0', 'a1', 'a2'])
    await connect('hub-2', ['b0'])
    await insert('t1', 'a2')
    await insert('t2')
    await insert('t3')
    await insert('t4', 'b0')
    const first = await claimTasks(sql, ['a0', 'a1', 'a2', 'b0'], 'hub-1')
    // b0 is not this hub's; t1 is a2's alone, so a0 takes t2, a1 t3; t4 stays for b0.
    expect(first.rows.map((r) => [r.task_id, r.agent_id, r.status, r.hub_id, r.attempts])).toEqual([
      ['t1', 'a2', 'assigned', 'hub-1', 1], ['t2', 'a0', 'assigned', 'hub-1', 1], ['t3', 'a1', 'assigned', 'hub-1', 1],
    ])
    expect(first.more_queued).toBe(true)
    // Every agent busy: nothing more, however often asked.
    expect(await claimTasks(sql, ['a0', 'a1', 'a2'], 'hub-1')).toEqual({ rows: [], more_queued: false })
    expect((await claimTasks(sql, ['b0'], 'hub-2'))).toMatchObject({ rows: [{ task_id: 't4', agent_id: 'b0' }], more_queued: false })
  })

  it('claimTasks gives a labelled task only to an agent with every label, skipping busy agents', async () => {
    await connect('hub-1', ['a0', 'a1', 'a2'])
    await sql`UPDATE agents SET labels = '{gpu,ssd}' WHERE agent_id = 'a1'`
    await insertTask(sql, { task_id: 't1', input: 1, pinned: null, timeout_ms: 1000, extras: { labels: ['gpu'], retries: 0, retry_delay_ms: 1000 } })
    await insert('t2')
    await insert('t3', 'a2')
    await sql`UPDATE tasks SET status = 'working', agent_id = 'a2' WHERE task_id = 't3'`
    await insert('t4')
    const { rows } = await claimTasks(sql, ['a0', 'a1', 'a2'], 'hub-1')
    expect(rows.map((r) => [r.task_id, r.agent_id])).toEqual([['t1', 'a1'], ['t2', 'a0']])
  })

  it('claimTasks from many connections at once: every task once, no agent two', async () => {
    const agents = Array.from({ length: 8 }, (_, i) => `a${i}`)
    await connect('hub-1', agents)
    for (let i = 0; i < 6; i++) await insert(`t${i}`)
    const groups = [agents.slice(0, 4), agents.slice(4)]
    const claimed = (await Promise.all(groups.map((g) => claimTasks(sql, g, 'hub-1')))).flatMap((c) => c.rows)
    expect(claimed).toHaveLength(6)
    expect(new Set(claimed.map((r) => r.task_id)).size).toBe(6)
    expect(new Set(claimed.map((r) => r.agent_id)).size).toBe(6)
  })

  it('saveTaskReports applies accepts and outcomes under their one-task rules, in one statement', async () => {
    await connect('hub-1', ['a0', 'a1', 'a2', 'a3'])
    await sql`INSERT INTO tasks (task_id, status, input, timeout_ms, retries) VALUES ('t9', 'queued', '{}', 60000, 1)`
    for (const id of ['t1', 't2', 't3']) await insert(id)
    expect((await claimTasks(sql, ['a0', 'a1', 'a2', 'a3'], 'hub-1')).rows).toHaveLength(4)
    const held = Object.fromEntries((await sql<{ task_id: string; agent_id: string }[]>`
      SELECT task_id, agent_id FROM tasks WHERE status = 'assigned'`).map((r) => [r.task_id, r.agent_id]))
    const [t9, t1, t2] = [held.t9, held.t1, held.t2]
    const saved = await saveTaskReports(sql, [
      { kind: 'accept', task_id: 't3', agent_id: held.t3 },
      { kind: 'finish', task_id: 't1', agent_id: t1, outcome: { ok: true, result: null } },
      { kind: 'finish', task_id: 't2', agent_id: 'not-its-agent', outcome: { ok: true, result: 1 } },
      { kind: 'finish', task_id: 't9', agent_id: t9, outcome: { ok: false, error: 'boom' } },
    ])
    expect(saved.map((r) => r && [r.task_id, r.status, r.result, r.error])).toEqual([
      ['t3', 'working', null, null], ['t1', 'completed', null, null], null, ['t9', 'queued', null, 'boom'],
    ])
    expect(await saveTaskReports(sql, [{ kind: 'accept', task_id: 't2', agent_id: 'not-its-agent' }])).toEqual([null])
    // The failure with a retry left waits its delay, the agent freed; a resend of it changes nothing.
    expect(saved[3]).toMatchObject({ agent_id: null, retried: 1 })
    expect(saved[3]!.run_after).toBeGreaterThan(saved[3]!.updated_at)
    expect(await saveTaskReports(sql, [{ kind: 'finish', task_id: 't9', agent_id: t9, outcome: { ok: false, error: 'boom' } }])).toEqual([null])
    expect(await getTask(sql, 't2')).toMatchObject({ status: 'assigned', agent_id: t2 })
    // A JSON null result is stored as SQL NULL, a JSON string as a string (as completeTask stores them).
    const [nulls] = await sql<{ is_null: boolean }[]>`SELECT result IS NULL AS is_null FROM tasks WHERE task_id = 't1'`
    expect(nulls.is_null).toBe(true)
    expect((await saveTaskReports(sql, [{ kind: 'finish', task_id: 't2', agent_id: t2, outcome: { ok: true, result: 'done' } }]))[0])
      .toMatchObject({ status: 'completed', result: 'done' })
  })

  it('a batch refused as data fails only its bad report when saved one by one', async () => {
    await connect('hub-1', ['a0', 'a1'])
    await insert('t1')
    await insert('t2')
    const { rows } = await claimTasks(sql, ['a0', 'a1'], 'hub-1')
    const by = Object.fromEntries(rows.map((r) => [r.task_id, r.agent_id!]))
    const reports = [
      // Text PostgreSQL holds in no column (U+0000), whatever the columns' types.
      { kind: 'finish' as const, task_id: 't1', agent_id: by.t1, outcome: { ok: false as const, error: 'x\u0000y' } },
      { kind: 'finish' as const, task_id: 't2', agent_id: by.t2, outcome: { ok: true as const, result: { good: 1 } } },
    ]
    await expect(saveTaskReports(sql, reports)).rejects.toMatchObject({ code: expect.stringMatching(/^22/) })
    const one = await saveTaskReportsOneByOne(sql, reports)
    expect(one[0]).toBeInstanceOf(Error)
    expect(one[1]).toMatchObject({ task_id: 't2', status: 'completed', result: { good: 1 } })
  })

  it('insertTasksNudged inserts in the order given, all or none near the cap', async () => {
    const tasks = ['n1', 'n2', 'n3'].map((task_id, i) => ({ task_id, input: i === 1 ? null : { i }, pinned: null, timeout_ms: 1000 }))
    const rows = await insertTasksNudged(sql, tasks, { hubId: 'hub-1' })
    expect(rows.map((r) => r && [r.task_id, r.status, r.input])).toEqual([['n1', 'queued', { i: 0 }], ['n2', 'queued', null], ['n3', 'queued', { i: 2 }]])
    const order = await sql<{ task_id: string }[]>`SELECT task_id FROM tasks ORDER BY seq`
    expect(order.map((r) => r.task_id)).toEqual(['n1', 'n2', 'n3'])
    // 3 queued; room for 3 more before the last 64 places (SERIALIZE_WITHIN) under a cap of 70: not for 4.
    const four = ['m1', 'm2', 'm3', 'm4'].map((task_id) => ({ task_id, input: 1, pinned: null, timeout_ms: 1000 }))
    expect(await insertTasksNudged(sql, four, { hubId: 'hub-1', maxQueued: 70 })).toEqual([null, null, null, null])
    expect(await insertTasksNudged(sql, four.slice(0, 3), { hubId: 'hub-1', maxQueued: 70 })).toHaveLength(3)
    const [{ count }] = await sql<{ count: string }[]>`SELECT count(*) FROM tasks`
    expect(Number(count)).toBe(6)
  })

  it('epoch_ms is inlined (no call per time read) and reads every time as before, to the millisecond', async () => {
    const plan = (await sql.unsafe<{ 'QUERY PLAN': string }[]>('EXPLAIN VERBOSE SELECT epoch_ms(created_at) FROM tasks')).map((r) => r['QUERY PLAN']).join('\n')
    expect(plan).not.toContain('epoch_ms')
    const [row] = await sql<{ same: boolean }[]>`
      SELECT bool_and(epoch_ms(t) = floor(extract(epoch FROM t) * 1000)::double precision) AS same
      FROM unnest(ARRAY[now(), '1969-07-20 20:17:40.1239+00', '2038-01-19 03:14:07.999999+00', '2026-12-06 13:45:00.0005+02']::timestamptz[]) AS t`
    expect(row.same).toBe(true)
  })

  it('the views of one events insert share a row and read back as one event each, ids in one range', async () => {
    const noNotify = async () => {}
    const view = (n: number) => ({ kind: n % 2 ? 'task' : 'agent', payload: { n } })
    const a = await insertEvents(sql, [1, 2, 3].map(view), noNotify)
    const b = await insertEvents(sql, [view(4)], noNotify)
    const c = await insertEvents(sql, [5, 6].map(view), noNotify)
    expect([b - a, c - b, await lastEventId(sql)]).toEqual([1, 2, c])
    const [{ rows }] = await sql<{ rows: string }[]>`SELECT count(*) AS rows FROM events`
    expect(Number(rows)).toBe(3)
    const all = await eventsAfter(sql, a - 3, 100)
    expect(all.map((e) => [e.id - (a - 3), e.kind, JSON.parse(e.json)])).toEqual([1, 2, 3, 4, 5, 6].map((n) => [n, view(n).kind, { n }]))
    // From inside a row, a page of rows at a time: the rest, in order, nothing twice.
    expect((await eventsAfter(sql, a - 2, 2)).map((e) => JSON.parse(e.json).n)).toEqual([2, 3, 4])
    expect((await eventsAfter(sql, b, 1)).map((e) => JSON.parse(e.json).n)).toEqual([5, 6])
    expect((await eventsAfter(sql, b + 1, 10)).map((e) => JSON.parse(e.json).n)).toEqual([6])
  })

  it('audit records appended together get their own growing ids, each record holding its own', async () => {
    const store = createPgAuditStore(sql)
    const entry = (target: string) => ({ at: 1_700_000_000_000, actor: { name: 'ops', role: 'admin' as const, jti: 'j1' }, peer: null, action: 'task create', target, detail: {}, status: 201 })
    const records = await Promise.all(['x', 'y', 'z'].map((t) => store.append(entry(t))))
    expect(new Set(records.map((r) => r.audit_id)).size).toBe(3)
    const page = await store.list({}, null, 10)
    for (const r of records) expect(page.records.find((p) => p.audit_id === r.audit_id)).toMatchObject({ target: r.target, audit_id: r.audit_id })
  })
})

describe('WriteBatch', () => {
  it('writes what comes in while a batch is written as the next batch, items of one key apart', async () => {
    const batches: number[][] = []
    let release!: () => void
    let gate = new Promise<void>((resolve) => (release = resolve))
    const batch = new WriteBatch<number, string>({
      keyOf: (n) => String(n % 10),
      write: async (items) => {
        batches.push(items)
        await gate
        return items.map((n) => `saved ${n}`)
      },
    })
    const first = batch.add(1)
    await Promise.resolve()
    const later = [batch.add(2), batch.add(3), batch.add(12)]
    expect(batches).toEqual([[1]])
    const gated = release
    gate = Promise.resolve()
    gated()
    expect(await first).toBe('saved 1')
    expect(await Promise.all(later)).toEqual(['saved 2', 'saved 3', 'saved 12'])
    expect(batches).toEqual([[1], [2, 3], [12]])
  })

  it('rejects every item of a failed batch, and takes back an unsent item with the answer given', async () => {
    const batch = new WriteBatch<string, string>({ write: async () => { throw new Error('database away') } })
    const a = batch.add('a')
    const b = batch.add('b')
    expect(batch.takeBack((x) => x === 'b', 'merged')).toBe(1)
    await expect(a).rejects.toThrow('database away')
    expect(await b).toBe('merged')
  })
})
