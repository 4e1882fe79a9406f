/**
 * The buffer behind `GET /api/admin/events`: every change the hub announces, numbered, with the
 * last `capacity` kept so a client that reconnects with `Last-Event-ID` gets what it missed.
 * Portable: Web APIs only. The log owns its ring and its listeners; the events route attaches.
 */

/**
 * One announced change. Its data is serialized once, whatever the number of clients, and only
 * when first sent or replayed: until then the event holds the view it was given, which shares
 * its strings with the hub's records, where a JSON text would copy them. A fleet's reconnect
 * storm passes thousands of agent events through the ring with nobody reading them.
 */
export class LoggedEvent {
  #data: unknown
  #json: string | undefined

  constructor(readonly epoch: string, readonly seq: number, readonly kind: string, data: unknown, json?: string) {
    this.#data = data
    this.#json = json
  }

  /** `<epoch>-<seq>`: the epoch tells this hub process's ids from an earlier one's. */
  get id(): string {
    return `${this.epoch}-${this.seq}`
  }

  /** The view without serializing it: the one given, or parsed back from its JSON (a cluster's events). */
  get view(): unknown {
    return this.#json === undefined ? this.#data : JSON.parse(this.#json)
  }

  get json(): string {
    if (this.#json === undefined) {
      this.#json = JSON.stringify(this.#data) ?? 'null'
      this.#data = undefined
    }
    return this.#json
  }
}

/**
 * What a client missed. `reset`: the id is older than the buffer, unknown, from another hub
 * process or in the future, so the client must fetch everything again; `lastId` is the id to
 * send with the reset so its next reconnect starts from here.
 */
export type Replay =
  | { reset: false; events: LoggedEvent[] }
  | { reset: true; lastId: string }

export type EventListener = (event: LoggedEvent) => void

export interface EventLogOptions {
  /** How many events are kept for replay. Default 1000 (the contract's minimum). */
  capacity?: number
  /** Prefix of every id; default a random one per log, so ids never repeat across restarts. */
  epoch?: string
}

export const EVENT_LOG_DEFAULTS = { capacity: 1000 } as const

export class EventLog {
  readonly capacity: number
  readonly epoch: string
  #ring: (LoggedEvent | undefined)[]
  #lastSeq = 0
  #listeners = new Set<EventListener>()

  constructor(options: EventLogOptions = {}) {
    const capacity = options.capacity ?? EVENT_LOG_DEFAULTS.capacity
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`options.capacity must be a positive integer, got ${capacity}`)
    const epoch = options.epoch ?? crypto.randomUUID().slice(0, 8)
    if (!/^[A-Za-z0-9_]{1,32}$/.test(epoch)) throw new Error(`options.epoch must be 1 to 32 characters of A-Za-z0-9_, got ${JSON.stringify(epoch)}`)
    this.capacity = capacity
    this.epoch = epoch
    this.#ring = new Array(capacity)
  }

  /** The number of the newest event, 0 before any. */
  get lastSeq(): number {
    return this.#lastSeq
  }

  /** The id of the newest event, or of "nothing yet" (`<epoch>-0`). */
  get lastId(): string {
    return `${this.epoch}-${this.#lastSeq}`
  }

  /**
   * Numbers the event, keeps it, and hands it to every listener. Returns its id. `data` is
   * serialized when first needed, so it must be a snapshot that nothing changes afterwards.
   */
  append(kind: string, data: unknown): string {
    return this.keep(new LoggedEvent(this.epoch, this.#lastSeq + 1, kind, data))
  }

  /**
   * Keeps an event read from an EventLogStore (event-log-store.ts) as it is, its view unserialized
   * when the store held it so (a cluster's comes as JSON text). It must be of this log's epoch and
   * past the last one; numbers skipped (a rolled-back insert) are simply absent.
   */
  keep(event: LoggedEvent): string {
    if (event.epoch !== this.epoch) throw new RangeError(`event ${event.id} is not of epoch ${this.epoch}`)
    if (!Number.isSafeInteger(event.seq) || event.seq <= this.#lastSeq) throw new RangeError(`event ${event.seq} is not after ${this.#lastSeq}`)
    this.#lastSeq = event.seq
    this.#ring[event.seq % this.capacity] = event
    for (const listener of this.#listeners) {
      try {
        listener(event)
      } catch {
        // A listener that throws is a client stream that broke; it must not cost the others
        // their event, and it gets no further ones.
        this.#listeners.delete(listener)
      }
    }
    return event.id
  }

  /**
   * The events after `lastEventId`. No id (a first connection): nothing to replay. An id this
   * log cannot vouch for: a reset.
   */
  since(lastEventId: string | null | undefined): Replay {
    if (lastEventId === null || lastEventId === undefined || lastEventId === '') return { reset: false, events: [] }
    const seq = this.#parse(lastEventId)
    const oldest = Math.max(1, this.#lastSeq - this.capacity + 1)
    if (seq === null || seq > this.#lastSeq || seq + 1 < oldest) return { reset: true, lastId: this.lastId }
    return { reset: false, events: this.after(seq, this.capacity) }
  }

  /** The events kept after number `seq`, oldest first, at most `limit` (older ones are gone from the ring). */
  after(seq: number, limit: number): LoggedEvent[] {
    const events: LoggedEvent[] = []
    const last = Math.min(this.#lastSeq, seq + Math.max(0, limit))
    for (let s = Math.max(seq + 1, this.#lastSeq - this.capacity + 1); s <= last; s++) {
      // A slot holds an older event, or none, where a number was skipped (keep).
      const event = this.#ring[s % this.capacity]
      if (event?.seq === s) events.push(event)
    }
    return events
  }

  /** Live events from now on; returns the unsubscribe. */
  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener)
    return () => this.unsubscribe(listener)
  }

  unsubscribe(listener: EventListener): void {
    this.#listeners.delete(listener)
  }

  /**
   * The replay and the live subscription in one step, so no event falls between them (both
   * run in the same turn of the event loop).
   */
  attach(lastEventId: string | null | undefined, listener: EventListener): { replay: Replay; unsubscribe: () => void } {
    const replay = this.since(lastEventId)
    return { replay, unsubscribe: this.subscribe(listener) }
  }

  get listenerCount(): number {
    return this.#listeners.size
  }

  #parse(id: string): number | null {
    const dash = id.lastIndexOf('-')
    if (dash < 0 || id.slice(0, dash) !== this.epoch) return null
    const digits = id.slice(dash + 1)
    if (!/^\d{1,15}$/.test(digits)) return null
    return Number(digits)
  }
}

/** One SSE event block. Data with line breaks becomes several `data:` lines, as the spec joins them. */
export function formatSseEvent(event: { id?: string; kind?: string; data: string }): string {
  let out = ''
  if (event.id !== undefined) out += `id: ${singleLine(event.id)}\n`
  if (event.kind !== undefined) out += `event: ${singleLine(event.kind)}\n`
  for (const line of event.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`
  return `${out}\n`
}

/** A logged event as its SSE block. */
export function formatLoggedEvent(event: LoggedEvent): string {
  return formatSseEvent({ id: event.id, kind: event.kind, data: event.json })
}

/** `event: reset`: the client missed more than the buffer holds and must fetch everything again. */
export function formatSseReset(lastId: string): string {
  return formatSseEvent({ id: lastId, kind: 'reset', data: '{}' })
}

/** A comment line: ignored by clients, it keeps idle connections (and proxies) open. */
export function formatSseComment(text = ''): string {
  return `:${text ? ` ${singleLine(text)}` : ''}\n\n`
}

/** What a replay sends first: the reset marker or the missed events, in order. */
export function formatReplay(replay: Replay): string {
  return replay.reset ? formatSseReset(replay.lastId) : replay.events.map(formatLoggedEvent).join('')
}

// A line break in a field would start a new field: an id or event name must never carry one.
function singleLine(text: string): string {
  return text.replace(/[\r\n]/g, ' ')
}
