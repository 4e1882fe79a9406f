/**
 * The events stream in cluster mode: one fleet-wide stream, the same from every hub, with ids
 * from the `events` table, so a client may resume on another hub with Last-Event-ID; and the
 * insert lock that keeps a reader from skipping an id that commits late.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { eventsAfter, insertEvents } from '../../hub/pg/event-rows.ts'
import type { TestDatabase } from '../../support/test-database.ts'
import { agentOn, clusterAdminToken, useTwoClusterHubs, type TestHub } from '../../support/cluster-hubs.ts'
import type { TestSocket } from '../../support/ws-client.ts'
import { followEvents, type StreamedEvent } from '../../support/event-follower.ts'
import { waitFor } from '../../support/wait.ts'

let db: TestDatabase
let a: TestHub
let b: TestHub
const cleanups: Array<() => void> = []

useTwoClusterHubs(['ev-a', 'ev-b'], (hubs) => ({ db, a, b } = hubs))
afterEach(() => {
  for (const done of cleanups.splice(0)) done()
})

/** The events stream of `hub` (resumed after `lastEventId` if given). */
async function stream(hub: TestHub, lastEventId?: string) {
  return followEvents(hub.running.url, await clusterAdminToken(), { lastEventId })
}

const seq = (id: string | null) => Number(id!.slice(id!.lastIndexOf('-') + 1))
const hasAgent = (agentId: string, pred: (view: any) => boolean) => (events: StreamedEvent[]) =>
  events.some((e) => e.event === 'agent' && JSON.parse(e.data).agent_id === agentId && pred(JSON.parse(e.data)))

describe('events in cluster mode', () => {
  it('every hub streams the same events, in the same order, whichever hub saw the change', async () => {
    const [onA, onB] = [await stream(a), await stream(b)]
    const sockets: TestSocket[] = [await agentOn(a, 'e-1'), await agentOn(b, 'e-2')]
    cleanups.push(() => sockets.forEach((s) => s.close()))
    const task = (await b.api('POST', '/tasks', { input: { n: 1 }, agent_id: 'e-1' })).body
    const assign = await sockets[0].next('task_assign')
    sockets[0].send({ type: 'task_accepted', task_id: assign.task_id })
    sockets[0].send({ type: 'task_complete', task_id: assign.task_id, result: 'ok' })
    await sockets[0].next('task_ack')
    await a.api('POST', '/agents/e-2/drain')
    const done = (events: StreamedEvent[]) => hasAgent('e-2', (v) => v.drained)(events) &&
      events.some((e) => e.event === 'task' && JSON.parse(e.data).status === 'completed')
    const [fromA, fromB] = [await onA.until(done), await onB.until(done)]
    expect(fromA.find(hasAgentEvent('e-1'))).toBeDefined()
    const e1 = JSON.parse(fromB.find(hasAgentEvent('e-1'))!.data)
    expect(e1).toMatchObject({ agent_id: 'e-1', connected: true, hub_id: 'ev-a' })
    const taskEvents = fromA.filter((e) => e.event === 'task').map((e) => JSON.parse(e.data))
    expect(taskEvents.map((t) => t.task_id)).toContain(task.task_id)
    expect(taskEvents.at(-1)).toMatchObject({ task_id: task.task_id, status: 'completed', result: 'ok' })
    // Ids strictly increasing, and the same events under the same ids on both hubs.
    const ids = fromA.map((e) => seq(e.id))
    expect(ids).toEqual([...ids].sort((x, y) => x - y))
    expect(new Set(ids).size).toBe(ids.length)
    const common = Math.min(fromA.length, fromB.length)
    expect(fromB.slice(0, common).map((e) => [e.id, e.event, e.data])).toEqual(fromA.slice(0, common).map((e) => [e.id, e.event, e.data]))
  })

  it('a client resumes on another hub with Last-Event-ID and gets what it missed, and a reset for an id it cannot vouch for', async () => {
    const first = await stream(a)
    const socket = await agentOn(b, 'e-3')
    cleanups.push(() => socket.close())
    const seen = await first.until(hasAgent('e-3', (v) => v.connected))
    const lastId = seen.at(-1)!.id!
    // Drained while the client was away. (Only the last view is promised: an event's view is
    // read from the rows when it is written, so a drain and a resume in quick succession may
    // both be written as the resumed view.)
    await a.api('POST', '/agents/e-3/drain')
    const resumed = await stream(b, lastId)
    const replayed = await resumed.until(hasAgent('e-3', (v) => v.drained === true))
    expect(seq(replayed[0].id)).toBeGreaterThan(seq(lastId))
    expect(replayed.some((e) => e.event === 'reset')).toBe(false)
    const reset = await stream(a, 'someone-else-12')
    expect((await reset.until((events) => events.length > 0))[0].event).toBe('reset')
  })

  it('an insert that commits late blocks later inserts, so readers never skip its id', async () => {
    const sql = db.connect({ max: 4 })
    let releaseFirst!: () => void
    const held = new Promise<void>((resolve) => { releaseFirst = resolve })
    const noNotify = async () => {}
    // The first inserter holds the lock (and its id) until released.
    let inserted!: () => void
    const firstInserted = new Promise<void>((resolve) => { inserted = resolve })
    const first = insertEvents(sql, [{ kind: 'test', payload: { n: 1 } }], async () => {
      inserted()
      await held
    })
    await firstInserted
    let secondDone = false
    const second = insertEvents(sql, [{ kind: 'test', payload: { n: 2 } }], noNotify).then((id) => {
      secondDone = true
      return id
    })
    const reader = db.connect({ max: 1 })
    // Either the second insert is done (no lock: it drew the later id and committed first) or it waits on the lock.
    await waitFor(async () => secondDone || (await reader`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).length > 0, Boolean, { what: 'second insert done or waiting' })
    const visible = async () => (await eventsAfter(reader, 0, 10_000)).filter((e) => e.kind === 'test')
    expect(await visible()).toEqual([])
    expect(secondDone).toBe(false)
    releaseFirst()
    const [id1, id2] = [await first, await second]
    expect(id2).toBeGreaterThan(id1)
    expect((await visible()).map((e) => JSON.parse(e.json))).toEqual([{ n: 1 }, { n: 2 }])
  })
})

function hasAgentEvent(agentId: string) {
  return (e: StreamedEvent) => e.event === 'agent' && JSON.parse(e.data).agent_id === agentId
}
