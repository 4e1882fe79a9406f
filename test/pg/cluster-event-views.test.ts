/**
 * The views a hub writes to the events stream in cluster mode are read under the events' insert
 * lock: a view read before it could be older than an event another hub inserted meanwhile for
 * the same agent or rollout, and the stream would then end on a state the thing has left. Each
 * test holds the lock as another hub's insert would, lets this hub read its view and wait on
 * the lock, changes the rows, and lets the other insert commit first.
 */
import { describe, expect, it } from 'vitest'
import { clusterEventViews } from '../../hub/cluster/cluster-events.ts'
import { LiveEvents } from '../../hub/events/live-events.ts'
import { ChangeFeed } from '../../hub/events/changes.ts'
import { PgEventLogStore } from '../../hub/pg/pg-event-store.ts'
import { eventsAfter, insertEvents } from '../../hub/pg/event-rows.ts'
import type { PgBus } from '../../hub/pg/notify-bus.ts'
import type { Sql } from '../../hub/pg/connect.ts'
import { silentLogger } from '../../shared/log.ts'
import { useMigratedDatabase } from '../../support/test-database.ts'
import { waitFor } from '../../support/wait.ts'

let sql: Sql
let bus: PgBus
useMigratedDatabase([], (_db, client, clientBus) => {
  sql = client
  bus = clientBus!
}, { max: 6, busHubId: 'views-a' })

/** This hub's events, over `rollouts` as its rollout views. */
async function hubEvents(rollouts: Map<string, unknown>) {
  const changes = new ChangeFeed()
  const events = new LiveEvents({
    changes, log: silentLogger, store: await PgEventLogStore.open({ sql, bus, capacity: 100 }),
    views: clusterEventViews({ sql, settled: async () => {}, rolloutView: async (id) => rollouts.get(id) ?? null, healingAction: async () => null }),
  })
  return { changes, events }
}

/**
 * Another hub's insert holding the lock until released, its payload read from `payload()` then;
 * resolves once this hub waits on the lock behind it.
 */
async function otherHubHoldingTheLock(payload: () => { kind: string; payload: unknown }) {
  let release!: () => void
  const held = new Promise<void>((resolve) => { release = resolve })
  let locked!: () => void
  const isLocked = new Promise<void>((resolve) => { locked = resolve })
  const event = { kind: '', payload: null as unknown }
  const inserted = insertEvents(sql, [event], async () => {}, async () => {
    locked()
    await held
    Object.assign(event, payload())
  })
  await isLocked
  return {
    inserted,
    /** Once this hub's write waits on the lock. */
    waiting: () => waitFor(async () => (await sql`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).length, (n) => n > 0, { what: 'a write waiting on the events lock' }),
    release,
  }
}

async function lastView(kind: string, id: (payload: any) => string, wanted: string) {
  const rows = (await eventsAfter(sql, 0, 10_000)).filter((e) => e.kind === kind && id(JSON.parse(e.json)) === wanted)
  return JSON.parse(rows.at(-1)!.json)
}

describe('cluster event views', () => {
  it('an agent event written after another hub\'s shows the agent as the rows are then', async () => {
    await sql`INSERT INTO agents (agent_id, hub_id, connected, drained) VALUES ('v-1', 'views-a', false, false)`
    const { changes, events } = await hubEvents(new Map())
    const other = await otherHubHoldingTheLock(() => ({ kind: 'agent', payload: { agent_id: 'v-1', drained: true } }))
    changes.publish({ type: 'agent', agent_id: 'v-1' })
    await other.waiting()
    // Drained on the other hub, whose event commits first.
    await sql`UPDATE agents SET drained = true WHERE agent_id = 'v-1'`
    other.release()
    await other.inserted
    await events.flushed()
    expect(await lastView('agent', (v) => v.agent_id, 'v-1')).toMatchObject({ agent_id: 'v-1', drained: true })
    events.close()
  })

  it('a rollout event written after another hub\'s shows the rollout as it is then', async () => {
    const rollouts = new Map<string, unknown>([['r-1', { rollout_id: 'r-1', state: 'running' }]])
    const { changes, events } = await hubEvents(rollouts)
    const other = await otherHubHoldingTheLock(() => ({ kind: 'rollout', payload: rollouts.get('r-1') }))
    changes.publish({ type: 'rollout', rollout_id: 'r-1' })
    await other.waiting()
    rollouts.set('r-1', { rollout_id: 'r-1', state: 'completed' })
    other.release()
    await other.inserted
    await events.flushed()
    expect(await lastView('rollout', (v) => v.rollout_id, 'r-1')).toEqual({ rollout_id: 'r-1', state: 'completed' })
    events.close()
  })

  it('a write whose agents are all gone by the lock inserts nothing', async () => {
    const { changes, events } = await hubEvents(new Map())
    const before = (await eventsAfter(sql, 0, 10_000)).length
    changes.publish({ type: 'agent', agent_id: 'never-known' })
    await new Promise<void>((resolve) => queueMicrotask(resolve))
    await events.flushed()
    expect((await eventsAfter(sql, 0, 10_000)).length).toBe(before)
    events.close()
  })
})
