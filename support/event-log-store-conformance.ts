/**
 * One behaviour suite for every EventLogStore (one hub's memory log, the cluster's rows):
 * numbers that follow the newest, views kept exactly, reading after a number, appends one at a
 * time in their order (the views of the next read only once the one before is kept), a write
 * with nothing to show drawing no number, trim keeping the replay's `capacity`, and the wake-up.
 */
import { describe, expect, it } from 'vitest'
import type { EventLogStore, NewEvent } from '../hub/events/event-log-store.ts'
import { waitFor } from './wait.ts'
import { ChangeFeed } from '../hub/events/changes.ts'
import { LiveEvents } from '../hub/events/live-events.ts'
import { silentLogger } from '../shared/log.ts'

export interface EventLogStoreUnderTest {
  /** A store whose `capacity` is `capacity`; it may hold events of earlier tests (numbers are read relative to `newest`). */
  open(capacity: number): Promise<EventLogStore>
  /** Resolves once a second append waits behind one under way (the rows: on the insert lock). */
  waitingBehind(): Promise<void>
}

const view = (n: number): NewEvent => ({ kind: n % 2 ? 'task' : 'agent', view: { n } })
const ns = (events: { json: string }[]) => events.map((e) => (JSON.parse(e.json) as { n: number }).n)

export function describeEventLogStore(name: string, under: EventLogStoreUnderTest): void {
  describe(`event log store: ${name}`, () => {
    it('numbers the events of each append after the newest, in order, under its epoch', async () => {
      const store = await under.open(100)
      expect(store.epoch).toMatch(/^[A-Za-z0-9_]{1,32}$/)
      const base = await store.newest()
      const first = await store.append(() => [view(1), view(2), view(3)])
      const second = await store.append(() => [view(4)])
      expect([first - base, second - first, await store.newest()]).toEqual([3, 1, second])
      const events = await store.after(base, 100)
      expect(events.map((e) => [e.seq - base, e.kind, e.id])).toEqual(
        [1, 2, 3, 4].map((n) => [n, view(n).kind, `${store.epoch}-${base + n}`]))
      expect(ns(events)).toEqual([1, 2, 3, 4])
      expect(ns(await store.after(base + 2, 100))).toEqual([3, 4])
      expect(await store.after(second, 100)).toEqual([])
      expect(await store.after(second + 5, 100)).toEqual([])
    })

    it('keeps each view exactly, any JSON text included', async () => {
      const store = await under.open(100)
      const odd = { input: 'nul \u0000, é, \u2028, "q"', nested: [1, null, { a: true }], big: 2 ** 53 - 1 }
      const seq = await store.append(() => [{ kind: 'task', view: odd }])
      const [event] = await store.after(seq - 1, 10)
      expect(event.json).toBe(JSON.stringify(odd))
      expect(event.view).toEqual(odd)
    })

    it('draws no number for an append with nothing to show', async () => {
      const store = await under.open(100)
      const base = await store.newest()
      expect(await store.append(() => [])).toBe(0)
      expect(await store.newest()).toBe(base)
      expect(await store.append(async () => [view(1)])).toBe(base + 1)
    })

    it('appends one at a time: the next append collects only once the one before is kept', async () => {
      const store = await under.open(100)
      const base = await store.newest()
      let release!: () => void
      const held = new Promise<void>((resolve) => { release = resolve })
      const collected: string[] = []
      const first = store.append(async () => {
        collected.push('first')
        await held
        return [view(1)]
      })
      await waitFor(() => collected.length, (n) => n === 1, { what: 'the first append collecting' })
      const second = store.append(() => {
        collected.push('second')
        return [view(2)]
      })
      // The second waits behind the first (the rows: on the insert lock) before it reads its views.
      await under.waitingBehind()
      expect(collected).toEqual(['first'])
      release()
      expect([await first, await second]).toEqual([base + 1, base + 2])
      expect(collected).toEqual(['first', 'second'])
    })

    it('an append whose collect throws keeps nothing and holds up no other', async () => {
      const store = await under.open(100)
      const base = await store.newest()
      await expect(store.append(() => { throw new Error('view unreadable') })).rejects.toThrow('view unreadable')
      expect(await store.append(() => [view(1)])).toBe(base + 1)
      expect(ns(await store.after(base, 10))).toEqual([1])
    })

    it('trims past its retention, never the newest capacity', async () => {
      const store = await under.open(5)
      const base = await store.newest()
      for (let n = 1; n <= 12; n++) await store.append(() => [view(n)])
      await store.trim()
      expect(ns(await store.after(base + 7, 100))).toEqual([8, 9, 10, 11, 12])
      // Older ones may be gone; those still there come in order.
      const all = ns(await store.after(base, 100))
      expect(all.slice(-5)).toEqual([8, 9, 10, 11, 12])
      expect(all).toEqual([...all].sort((a, b) => a - b))
    })

    it('wakes its readers after an append with its last number, until they unsubscribe', async () => {
      const store = await under.open(100)
      const woken: number[] = []
      const stillListening: number[] = []
      const off = store.onAppended((seq) => woken.push(seq))
      const offToo = store.onAppended((seq) => stillListening.push(seq))
      const seq = await store.append(() => [view(1), view(2)])
      await waitFor(() => woken, (seen) => seen.includes(seq), { what: 'the wake-up' })
      off()
      const next = await store.append(() => [view(3)])
      await waitFor(() => stillListening, (seen) => seen.includes(next), { what: 'the second wake-up' })
      offToo()
      expect(woken).not.toContain(next)
    })
    it('carries the one events owner: ids of the store, one event per thing and turn, replay after an id, reset past the buffer', async () => {
      const store = await under.open(3)
      const changes = new ChangeFeed()
      const tasks = new Map<string, { n: number }>()
      const events = new LiveEvents({
        changes, store, log: silentLogger,
        views: { read: async (cs) => ({ collect: () => cs.flatMap((c) => c.type === 'task' && tasks.has(c.task_id) ? [{ kind: 'task', view: tasks.get(c.task_id) }] : []) }) },
      })
      await events.ready
      const start = events.log.lastId
      for (let n = 1; n <= 4; n++) {
        tasks.set(`t-${n}`, { n })
        changes.publish({ type: 'task', task_id: `t-${n}` })
        await events.settled()
      }
      events.publish('audit', { n: 5 })
      await events.settled()
      const seq = (id: string) => Number(id.slice(id.lastIndexOf('-') + 1))
      expect(events.log.lastId).toBe(`${store.epoch}-${await store.newest()}`)
      const replay = events.log.since(`${store.epoch}-${seq(events.log.lastId) - 2}`)
      expect(replay.reset ? 'reset' : replay.events.map((e) => [e.kind, JSON.parse(e.json).n])).toEqual([['task', 4], ['audit', 5]])
      // Five events past a buffer of three, an id of another epoch, one in the future.
      for (const id of [start, 'other-1', `${store.epoch}-${seq(events.log.lastId) + 1}`]) {
        expect(events.log.since(id), id).toEqual({ reset: true, lastId: events.log.lastId })
      }
      const before = events.log.lastId
      tasks.set('t-1', { n: 6 })
      changes.publish({ type: 'task', task_id: 't-1' })
      tasks.set('t-1', { n: 7 })
      changes.publish({ type: 'task', task_id: 't-1' })
      changes.publish({ type: 'task', task_id: 'gone' })
      await events.settled()
      const coalesced = events.log.since(before)
      expect(coalesced.reset ? 'reset' : ns(coalesced.events)).toEqual([7])
      events.close()
    })
  })
}
