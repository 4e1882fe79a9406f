/**
 * Where the events stream's events are kept, as named operations: append the events of one
 * write, read those after a number, the newest number, trim to the retention, and a wake-up
 * when any hub appended. Two stores: a memory log for one hub (here) and the cluster's event
 * rows (hub/pg/pg-event-store.ts, with NOTIFY as the wake-up). The stream's clients are served
 * from an EventLog ring: the memory store's own, or one filled from the rows. Ids are
 * `<epoch>-<seq>` in both.
 * Portable: Web APIs only.
 */
import { EventLog, type EventLogOptions, type LoggedEvent } from './event-log.ts'

/** One event to append: its name and its view, a snapshot nothing changes afterwards. */
export interface NewEvent {
  kind: string
  view: unknown
}

export interface EventLogStore<Scope = unknown> {
  /** The prefix of every id: a memory log's own (random), the cluster database's. */
  readonly epoch: string
  /** How many of the newest events are kept for replay: trim never drops them. */
  readonly capacity: number
  /**
   * The ring the events are kept in, when the store is this process's memory: the events owner
   * serves its clients from it and reads nothing back (a cluster's rows have none).
   */
  readonly log?: EventLog
  /**
   * Appends what `collect` returns, in order, numbered after every event appended before.
   * `collect` runs in the store's append order, one at a time (memory: a queue; rows: under the
   * events' insert lock, given its transaction as `scope`), so views it reads are at least as new
   * as every event already kept. Resolves the last number, 0 when `collect` gave none (no
   * number is drawn then).
   */
  append(collect: (scope: Scope) => NewEvent[] | Promise<NewEvent[]>): Promise<number>
  /** The events after `seq`, oldest first, about `limit` of them (a row of several views comes whole). */
  after(seq: number, limit: number): Promise<LoggedEvent[]>
  /** The newest number, 0 before any. */
  newest(): Promise<number>
  /** Drops what is past the store's retention, never the newest `capacity`; resolves how many went. */
  trim(): Promise<number>
  /**
   * Runs `listener` after any append (this hub's or, for rows, another hub's) with its last
   * number: the wake-up to read `after`. A wake-up may be missed (a lost connection): readers
   * also read on their own now and then. Returns the unsubscribe.
   */
  onAppended(listener: (seq: number) => void): () => void
}

/** One hub's events: a ring of the newest `capacity` (EventLog), views kept unserialized until sent. */
export class MemoryEventLogStore implements EventLogStore<void> {
  readonly #log: EventLog
  #listeners = new Set<(seq: number) => void>()
  /** The last append waiting for its views: the next one's `collect` waits for it, as a row insert waits on the lock. */
  #queue: Promise<unknown> = Promise.resolve()
  /** Appends whose views are still to come. */
  #busy = 0

  constructor(options: EventLogOptions = {}) {
    this.#log = new EventLog(options)
  }

  get epoch(): string {
    return this.#log.epoch
  }

  get capacity(): number {
    return this.#log.capacity
  }

  get log(): EventLog {
    return this.#log
  }

  append(collect: (scope: void) => NewEvent[] | Promise<NewEvent[]>): Promise<number> {
    // Nothing under way and views read at once (one hub's): kept now, without a turn of waiting.
    if (this.#busy === 0) {
      let events: NewEvent[] | Promise<NewEvent[]>
      try {
        events = collect()
      } catch (err) {
        return Promise.reject(err)
      }
      if (Array.isArray(events)) return Promise.resolve(this.#keep(events))
      return this.#queued(events)
    }
    return this.#queued(this.#queue.then(() => collect()))
  }

  /** An append whose views come later: the next ones wait for it. */
  #queued(events: Promise<NewEvent[]>): Promise<number> {
    this.#busy++
    const appended = events.then((got) => this.#keep(got)).finally(() => { this.#busy-- })
    this.#queue = appended.catch(() => undefined)
    return appended
  }

  #keep(events: NewEvent[]): number {
    if (events.length === 0) return 0
    for (const event of events) this.#log.append(event.kind, event.view)
    const seq = this.#log.lastSeq
    for (const listener of this.#listeners) {
      try {
        listener(seq)
      } catch {
        // A reader that failed to wake up reads on its next one; the append itself stands.
      }
    }
    return seq
  }

  after(seq: number, limit: number): Promise<LoggedEvent[]> {
    return Promise.resolve(this.#log.after(Math.max(0, Math.floor(seq)), limit))
  }

  newest(): Promise<number> {
    return Promise.resolve(this.#log.lastSeq)
  }

  /** The ring holds `capacity` and overwrites the oldest: nothing to drop. */
  async trim(): Promise<number> {
    return 0
  }

  onAppended(listener: (seq: number) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }
}
