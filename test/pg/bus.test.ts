import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ALL_HUBS, BUS_CHANNEL, createPgBus, type BusMessage, type PgBus } from '../../hub/pg/notify-bus.ts'
import { connectDatabase } from '../../hub/pg/connect.ts'
import { startTcpProxy } from '../../support/tcp-proxy.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'
import { waitFor } from '../../support/wait.ts'

/** Collects what a bus delivers, and lets a test wait for a message. */
function inbox(bus: PgBus) {
  const got: { message: BusMessage; from: string }[] = []
  bus.subscribe((message, from) => {
    got.push({ message, from })
  })
  const until = (accept: (m: BusMessage) => boolean) =>
    waitFor(() => got.find((g) => accept(g.message)), (g) => g !== undefined, { intervalMs: 10, what: 'a bus message' }).then((g) => g!)
  return { got, until }
}

/** Counts LISTEN registrations. */
function listenCounter() {
  let count = 0
  return {
    onListen: () => {
      count++
    },
    get count() {
      return count
    },
    reach: (n: number) => waitFor(() => count, (c) => c >= n, { intervalMs: 10, what: `${n} LISTEN registrations` }),
  }
}

describe('LISTEN/NOTIFY bus', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(() => db.drop())

  it('delivers to the target hub only, and to every hub (the sender too) for ALL_HUBS', async () => {
    const a = await createPgBus(db.connect(), { hubId: 'hub-a' })
    const b = await createPgBus(db.connect(), { hubId: 'hub-b' })
    const inA = inbox(a)
    const inB = inbox(b)
    await a.publish('hub-b', { kind: 'restart', agent_id: 'w1', restart_id: 'r1' })
    await a.publish(ALL_HUBS, { kind: 'task_queued', task_id: 't1' })
    expect(await inB.until((m) => m.kind === 'restart')).toEqual({ message: { kind: 'restart', agent_id: 'w1', restart_id: 'r1' }, from: 'hub-a' })
    await inB.until((m) => m.kind === 'task_queued')
    await inA.until((m) => m.kind === 'task_queued')
    expect(inA.got.map((g) => g.message.kind)).toEqual(['task_queued'])
    await Promise.all([a.close(), b.close()])
  })

  it('a message published in a transaction goes out at commit, and not at all on rollback', async () => {
    const sql = db.connect()
    const a = await createPgBus(sql, { hubId: 'hub-a' })
    const inA = inbox(a)
    await sql.begin(async (tx) => {
      await a.publish('hub-a', { kind: 'first' }, tx)
    })
    await sql.begin(async (tx) => {
      await a.publish('hub-a', { kind: 'rolled_back' }, tx)
      throw new Error('abort')
    }).catch(() => {})
    await a.publish('hub-a', { kind: 'last' })
    // Notifications arrive in commit order: once `last` is in, a rolled-back one would be too.
    await inA.until((m) => m.kind === 'last')
    expect(inA.got.map((g) => g.message.kind)).toEqual(['first', 'last'])
    await a.close()
  })

  it('refuses an oversized payload and reserved fields, sending nothing', async () => {
    const a = await createPgBus(db.connect(), { hubId: 'hub-a' })
    await expect(a.publish('hub-b', { kind: 'x', blob: 'y'.repeat(8000) })).rejects.toThrow(
      /^bus message of 80\d\d bytes exceeds 7999: send ids and read the rest from the tables$/,
    )
    await expect(a.publish('hub-b', { kind: 'x', to: 'hub-c' })).rejects.toThrow('bus message fields "to" and "from" are reserved')
    await a.close()
  })

  it('reports a notification that is not a bus message and keeps delivering', async () => {
    const sql = db.connect()
    const invalid: string[] = []
    const a = await createPgBus(sql, { hubId: 'hub-a', onInvalid: (p) => invalid.push(p) })
    const inA = inbox(a)
    await sql.notify(BUS_CHANNEL, 'not json')
    await sql.notify(BUS_CHANNEL, JSON.stringify({ to: 'hub-a', from: 'x', kind: 'k', nested: { no: 1 } }))
    await a.publish('hub-a', { kind: 'after' })
    await inA.until((m) => m.kind === 'after')
    expect(invalid).toEqual(['not json', '{"to":"hub-a","from":"x","kind":"k","nested":{"no":1}}'])
    await a.close()
  })

  it('a handler that throws is reported, and the other handlers still get the message', async () => {
    const errors: unknown[] = []
    const a = await createPgBus(db.connect(), { hubId: 'hub-a', onHandlerError: (err) => errors.push(err) })
    a.subscribe(() => {
      throw new Error('handler bug')
    })
    const inA = inbox(a)
    await a.publish('hub-a', { kind: 'k' })
    await inA.until((m) => m.kind === 'k')
    expect(errors).toEqual([new Error('handler bug')])
    await a.close()
  })

  it('LISTENs again after its connection is terminated, and a later message arrives', async () => {
    const listens = listenCounter()
    const busSql = db.connect({ applicationName: 'bus-terminated' })
    const a = await createPgBus(busSql, { hubId: 'hub-a', onListen: listens.onListen })
    const inA = inbox(a)
    expect(listens.count).toBe(1)
    const admin = db.connect()
    const killed = await admin`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
      WHERE application_name = 'bus-terminated' AND query ILIKE 'listen%'`
    expect(killed.map((k) => k.ok)).toEqual([true])
    await listens.reach(2)
    await admin.notify(BUS_CHANNEL, JSON.stringify({ to: 'hub-a', from: 'hub-b', kind: 'after_reconnect' }))
    expect((await inA.until((m) => m.kind === 'after_reconnect')).from).toBe('hub-b')
    await a.close()
  })

  it('LISTENs again once the database is reachable after an outage', async () => {
    const server = new URL(db.url)
    const proxy = await startTcpProxy(server.hostname, Number(server.port))
    const listens = listenCounter()
    const busSql = connectDatabase(proxy.url(db.url), { connectTimeoutS: 2 })
    try {
      const a = await createPgBus(busSql, { hubId: 'hub-a', onListen: listens.onListen })
      const inA = inbox(a)
      proxy.cut()
      // Publishing through the cut proxy fails: the hub would refuse the command (503).
      await expect(a.publish('hub-a', { kind: 'during' })).rejects.toThrow()
      // The listener retried while the database was out of reach, and was refused.
      await waitFor(async () => proxy.refused, (n) => n >= 3, { what: 'reconnect attempts during the outage' })
      proxy.restore()
      await listens.reach(2)
      const admin = db.connect()
      await admin.notify(BUS_CHANNEL, JSON.stringify({ to: 'hub-a', from: 'hub-b', kind: 'after_outage' }))
      await inA.until((m) => m.kind === 'after_outage')
      await a.close()
    } finally {
      await busSql.end({ timeout: 1 })
      await proxy.close()
    }
  })
})
