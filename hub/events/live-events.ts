/**
 * What `GET /api/admin/events` tells, in both modes: the one owner of the events stream. It
 * follows the change feed, turns what changed into views (EventViews: one hub reads its memory,
 * a cluster its rows) and appends them to its EventLogStore (a memory log, or the cluster's rows
 * shared by every hub). Its clients are served from an EventLog, with replay by Last-Event-ID:
 * the memory store's own ring, or in a cluster one it fills on each wake-up of the store with
 * what every hub appended. Changes of one thing within one turn of the event loop become one event
 * carrying its latest view: an identify that moves an agent three times is one `agent` event.
 */
import type { Logger } from '../../shared/log.ts'
import { changeKey, type Change, type ChangeFeed } from './changes.ts'
import { EventLog } from './event-log.ts'
import type { EventLogStore, NewEvent } from './event-log-store.ts'

/** The event names the stream carries, besides `reset`. `audit` is published by the audit trail (hub/access/). */
export type LiveEventKind = 'agent' | 'task' | 'rollout' | 'healing' | 'audit'

/**
 * How the changes of one write become views. `read` resolves with what reads them in the store's
 * append order (given its scope: a cluster's transaction under the events' lock), or null when
 * none of them has anything to show, so no append is made. (Methods, so a store and views over
 * rows pass where a scope of any kind is taken.)
 */
export interface EventViews<Scope> {
  read(changes: Change[]): Promise<{ collect(scope: Scope): NewEvent[] | Promise<NewEvent[]> } | null>
}

/** An EventLogStore and the views read over it: what createHub builds the events owner from (HubStore.events). */
export interface EventsOver<Scope> {
  store: EventLogStore<Scope>
  views: EventViews<Scope>
}

export interface LiveEventsOptions<Scope> {
  changes: ChangeFeed
  store: EventLogStore<Scope>
  views: EventViews<Scope>
  log: Logger
  /** Each view of this hub's own changes as it is appended (a cluster's metrics counters). */
  ownView?(kind: string, view: unknown): void
}

/** Events read from the store at a time. */
const READ_BATCH = 1000

export class LiveEvents<Scope = unknown> {
  readonly log: EventLog
  /** Resolves once the store's newest events are in the log (a cluster's, for replay from the start). */
  readonly ready: Promise<void>
  /** What changed since the last write, by `<kind>:<id>`, in the order it first changed. */
  #pending = new Map<string, Change>()
  #published: NewEvent[] = []
  #writing: Promise<void> | null = null
  #writeAgain = false
  #reading: Promise<void> | null = null
  #readAgain = false
  #closed = false
  readonly #unsubscribe: Array<() => void>

  constructor(private readonly o: LiveEventsOptions<Scope>) {
    // A store in this process keeps its events in a ring of its own: that one is served, not a copy.
    const own = o.store.log
    this.log = own ?? new EventLog({ capacity: o.store.capacity, epoch: o.store.epoch })
    this.#unsubscribe = [o.changes.subscribe((change) => this.#note(change))]
    if (own) {
      this.ready = Promise.resolve()
      return
    }
    this.#unsubscribe.push(o.store.onAppended(() => void this.catchUp()))
    this.ready = this.catchUp()
  }

  /**
   * Appends an event whose view its owner has already shaped, e.g. `publish('healing',
   * healingActionView)`, a snapshot nothing changes afterwards. Not coalesced: each call is one
   * event, after the views of the changes noted with it.
   */
  publish(kind: LiveEventKind, view: unknown): void {
    this.#published.push({ kind, view })
    this.#schedule()
  }

  /** Reads the events after the last one in the log (on a wake-up, after a re-LISTEN, each sweep). */
  catchUp(): Promise<void> {
    if (this.#reading) {
      this.#readAgain = true
      return this.#reading
    }
    this.#reading = (async () => {
      try {
        do {
          this.#readAgain = false
          await this.#read()
        } while (this.#readAgain && !this.#closed)
      } catch (err) {
        this.o.log.warn('could not read events', { error: String(err) })
      } finally {
        this.#reading = null
      }
    })()
    return this.#reading
  }

  /** Resolves once every change noted so far is in the store. */
  async flushed(): Promise<void> {
    while (this.#writing) await this.#writing
  }

  /** Resolves once every change noted so far is in the store and read back into the log clients are served from. */
  async settled(): Promise<void> {
    await this.flushed()
    await this.catchUp()
  }

  close(): void {
    this.#closed = true
    for (const off of this.#unsubscribe) off()
    this.#pending.clear()
    this.#published = []
  }

  async #read(): Promise<void> {
    for (;;) {
      // Far behind (a hub back from a long pause): only the newest `capacity` can be replayed anyway.
      const newest = await this.o.store.newest()
      const after = Math.max(this.log.lastSeq, newest - this.log.capacity)
      const events = await this.o.store.after(after, READ_BATCH)
      for (const event of events) if (event.seq > this.log.lastSeq) this.log.keep(event)
      if (events.length < READ_BATCH || this.#closed) return
    }
  }

  #note(change: Change): void {
    this.#pending.set(changeKey(change), change)
    this.#schedule()
  }

  #schedule(): void {
    if (this.#closed) return
    if (this.#writing) {
      this.#writeAgain = true
      return
    }
    // After this turn, so the changes of one turn become one event each.
    this.#writing = new Promise<void>((resolve) => queueMicrotask(resolve)).then(() => this.#write()).finally(() => {
      this.#writing = null
      if (this.#writeAgain) {
        this.#writeAgain = false
        this.#schedule()
      }
    })
  }

  async #write(): Promise<void> {
    const changes = [...this.#pending.values()]
    const published = this.#published
    this.#pending = new Map()
    this.#published = []
    try {
      const viewing = changes.length === 0 ? null : await this.o.views.read(changes)
      if (!viewing && published.length === 0) return
      const withPublished = (viewed: NewEvent[]) => {
        const events = published.length === 0 ? viewed : [...viewed, ...published]
        if (this.o.ownView) for (const e of events) this.o.ownView(e.kind, e.view)
        return events
      }
      // Views read at once (one hub's memory) are appended in the same step, without a turn more.
      await this.o.store.append((scope) => {
        const viewed = viewing ? viewing.collect(scope) : []
        return Array.isArray(viewed) ? withPublished(viewed) : viewed.then(withPublished)
      })
    } catch (err) {
      // The live view misses these (its clients see the next ones); nothing promised is lost.
      this.o.log.warn('could not record events', { error: String(err), events: changes.length + published.length })
    }
  }
}
