/**
 * A task's input and result, and the events that carry them, are any JSON in PostgreSQL too:
 * U+0000 and lone surrogates, which jsonb refuses, are kept exactly (json columns, schema.ts
 * ANY_JSON), and rows stored before that migration read back as they were. Through the hub, on
 * both stores: test/behaviour/unstorable-text.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Sql } from '../../hub/pg/connect.ts'
import { eventsAfter, insertEvents } from '../../hub/pg/event-rows.ts'
import { migrate } from '../../hub/pg/migrate.ts'
import { claimAgent, renewLease } from '../../hub/pg/presence-rows.ts'
import { MIGRATIONS } from '../../hub/pg/schema.ts'
import { insertTaskNudged } from '../../hub/pg/task-insert.ts'
import { claimTasks, getTask, insertTask } from '../../hub/pg/task-queue.ts'
import { finishTask } from '../../hub/pg/task-reports.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'

const ANY_JSON = MIGRATIONS.findIndex((m) => m.name.startsWith('task input, result and event payloads as json'))
const noNotify = async () => {}

describe('any JSON in the cluster store', () => {
  let db: TestDatabase
  let sql: Sql
  beforeEach(async () => {
    db = await createTestDatabase()
    sql = db.connect()
  })
  afterEach(() => db.drop())

  it('keeps U+0000 and lone surrogates in a task input and result, and in event payloads, exactly', async () => {
    await migrate(sql)
    const input = { 'k\u0000': ['a\u0000b', '\ud800', 'x\udfff', '\ud83d\ude00'], n: null }
    const result = ['\u0000', { '\udbff': 1 }]
    expect((await insertTask(sql, { task_id: 't1', input, pinned: null, timeout_ms: 60_000 })).input).toEqual(input)
    expect((await insertTaskNudged(sql, { task_id: 't2', input: '\u0000', pinned: null, timeout_ms: 60_000 }, { hubId: 'h1' }))!.input).toBe('\u0000')
    await renewLease(sql, 'h1', 60_000)
    await claimAgent(sql, { hubId: 'h1', agentId: 'a1', connectionId: 'c1', hello: { pm2_info: null, supervised: true, instance_id: null } })
    expect((await claimTasks(sql, ['a1'], 'h1')).rows[0].input).toEqual(input)
    expect(await finishTask(sql, 't1', 'a1', { ok: true, result })).toMatchObject({ status: 'completed', input, result })
    expect(await getTask(sql, 't1')).toMatchObject({ input, result })

    const last = await insertEvents(sql, [{ kind: 'task', payload: { input, result } }, { kind: 'plain', payload: 1 }], noNotify)
    const rows = await eventsAfter(sql, last - 2, 10)
    expect(rows.map((r) => [r.kind, JSON.parse(r.json)])).toEqual([['task', { input, result }], ['plain', 1]])
  })

  it('reads back the tasks and events stored as jsonb before the migration', async () => {
    await migrate(sql, MIGRATIONS.slice(0, ANY_JSON))
    const input = { text: 'é \ufffd "q"', list: [1, 2.5, true, null] }
    await sql`INSERT INTO tasks (task_id, status, input, result, timeout_ms)
      VALUES ('old', 'completed', ${JSON.stringify(input)}::text::jsonb, '{"ok": [1]}'::jsonb, 1000),
        ('old-null', 'queued', 'null'::jsonb, NULL, 1000)`
    await sql`INSERT INTO events (kind, payload) VALUES ('task', ${JSON.stringify({ input })}::text::jsonb)`

    expect((await migrate(sql)).applied).toEqual(MIGRATIONS.slice(ANY_JSON).map((m) => m.version))
    expect(await getTask(sql, 'old')).toMatchObject({ input, result: { ok: [1] } })
    expect(await getTask(sql, 'old-null')).toMatchObject({ input: null, result: null })
    expect((await eventsAfter(sql, 0, 10)).map((r) => JSON.parse(r.json))).toEqual([{ input }])
  })
})
