/**
 * `GET /api/admin/events`: the EventLog as Server-Sent Events, with hono's streamSSE. Each
 * client gets what it missed (Last-Event-ID) or `event: reset`, then live events, and a comment
 * every `keepAliveMs`. Each event is formatted and encoded once for all clients. A client's unsent text is
 * bounded: past `maxQueuedBytes` its stream is ended (it reconnects with Last-Event-ID and
 * catches up from the buffer), so a client that stops reading cannot make the hub hold more.
 */
import type { Context } from 'hono'
import { streamSSE, type SSEStreamingApi } from 'hono/streaming'
import { noStore } from '../security/no-store.ts'
import type { Logger } from '../../shared/log.ts'
import { ERROR, utf8Length } from '../../shared/protocol.ts'
import { formatLoggedEvent, formatSseComment, formatSseReset, type EventLog, type LoggedEvent, type Replay } from './event-log.ts'

export interface EventStreamOptions {
  /** A comment goes to every stream this often, so idle ones stay open. Default 15 s. */
  keepAliveMs?: number
  /** A stream with more than this many bytes not yet taken by the runtime is ended. Default 2 MiB. */
  maxQueuedBytes?: number
  /**
   * Events are written to the clients together at most this often: one write per client per
   * batch instead of one per event, which is most of the cost of many clients. Each client's
   * write starts at its own ms within the interval. Default 100 ms: still live to a person, and
   * a fifth of the writes of 20 ms, which on Deno showed in the commands' p99 (events_fanout).
   */
  batchMs?: number
  /** Open streams beyond this are answered 503 `too_many_clients` (AGENTCOM_MAX_EVENT_CLIENTS). Default 256. */
  maxClients?: number
  log: Logger
}

export const EVENT_STREAM_DEFAULTS = { keepAliveMs: 15_000, maxQueuedBytes: 2 * 1024 * 1024, batchMs: 100, maxClients: 256 } as const

/** Why a stream ended, for the log and the tests. */
export type EndReason = 'client_gone' | 'too_slow' | 'token_invalid' | 'hub_closing'

const encoder = new TextEncoder()

class EventClient {
  #queue: Uint8Array[] = []
  #queuedBytes = 0
  #writing = false
  #flushTimer: ReturnType<typeof setTimeout> | null = null
  #ended = false
  readonly done: Promise<EndReason>
  #resolve!: (reason: EndReason) => void

  /**
   * `phaseMs`: how long after bytes are queued this client's write starts. The clients' phases
   * are spread over the batch interval, so a batch reaches them one at a time, and a command
   * that comes in meanwhile waits for one client's write at most, not for all of them.
   */
  constructor(private readonly stream: SSEStreamingApi, private readonly maxQueuedBytes: number, private readonly phaseMs: number) {
    this.done = new Promise((resolve) => { this.#resolve = resolve })
  }

  get ended(): boolean {
    return this.#ended
  }

  /** Queues bytes for the client. False when they would pass the bound: the stream is ended. */
  send(bytes: Uint8Array): boolean {
    if (this.#ended) return false
    if (this.#queuedBytes + bytes.byteLength > this.maxQueuedBytes) {
      this.end('too_slow')
      return false
    }
    this.#queue.push(bytes)
    this.#queuedBytes += bytes.byteLength
    if (this.#writing || this.#flushTimer) return true
    if (this.phaseMs === 0) void this.#pump()
    else this.#flushTimer = setTimeout(() => {
      this.#flushTimer = null
      void this.#pump()
    }, this.phaseMs)
    return true
  }

  end(reason: EndReason): void {
    if (this.#ended) return
    this.#ended = true
    if (this.#flushTimer) clearTimeout(this.#flushTimer)
    this.#flushTimer = null
    this.#queue = []
    this.#queuedBytes = 0
    // Cancels the stream under the response: a runtime waiting to read gets its end at once.
    this.stream.abort()
    this.#resolve(reason)
  }

  /** One write at a time, of everything queued meanwhile; the runtime's pace sets ours. */
  async #pump(): Promise<void> {
    this.#writing = true
    while (this.#queue.length > 0 && !this.#ended) {
      const chunk = this.#queue.length === 1 ? this.#queue[0] : concat(this.#queue, this.#queuedBytes)
      this.#queue = []
      await this.stream.write(chunk)
      this.#queuedBytes -= chunk.byteLength
      // streamSSE's write swallows a failed write; a cancelled response shows as aborted.
      if (this.stream.aborted) this.end('client_gone')
    }
    this.#writing = false
  }
}

export class EventStreams {
  readonly keepAliveMs: number
  readonly maxQueuedBytes: number
  readonly batchMs: number
  readonly maxClients: number
  #clients = new Set<EventClient>()
  /** Streams opened so far: the next one's phase (EventClient) is the next ms of the batch interval. */
  #opened = 0
  /** Events appended to the log but not yet written to the clients. */
  #batch: Uint8Array[] = []
  #batchBytes = 0
  #batchTimer: ReturnType<typeof setTimeout> | null = null
  #unsubscribe: () => void

  /** `ready`: resolves once `events` holds the store's newest events (LiveEvents.ready); streams open after it. */
  constructor(private readonly events: EventLog, private readonly opts: EventStreamOptions, private readonly ready: Promise<void> = Promise.resolve()) {
    this.keepAliveMs = opts.keepAliveMs ?? EVENT_STREAM_DEFAULTS.keepAliveMs
    this.maxQueuedBytes = opts.maxQueuedBytes ?? EVENT_STREAM_DEFAULTS.maxQueuedBytes
    this.batchMs = opts.batchMs ?? EVENT_STREAM_DEFAULTS.batchMs
    this.maxClients = opts.maxClients ?? EVENT_STREAM_DEFAULTS.maxClients
    for (const [key, value] of [['keepAliveMs', this.keepAliveMs], ['maxQueuedBytes', this.maxQueuedBytes], ['maxClients', this.maxClients]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new Error(`options.${key} must be a positive integer, got ${value}`)
    }
    if (!Number.isInteger(this.batchMs) || this.batchMs < 0) throw new Error(`options.batchMs must be a whole number of ms, got ${this.batchMs}`)
    this.#unsubscribe = events.subscribe((event) => this.#fanOut(event))
  }

  /** Open streams. */
  get size(): number {
    return this.#clients.size
  }

  /**
   * The route handler. Auth is the admin router's; `stillValid` checks the stream's token again
   * with each keep-alive, so a stream on a token that expired or was revoked ends within one.
   */
  handle = (c: Context, stillValid: () => Promise<boolean> = async () => true) => {
    // Counted when the stream opens, below, in the same turn: no await between check and add.
    if (this.#clients.size >= this.maxClients) return c.json({ error: ERROR.TOO_MANY_CLIENTS }, 503)
    const lastEventId = c.req.header('last-event-id') ?? null
    // Proxies (nginx) would otherwise hold the stream back to fill their buffers.
    c.header('X-Accel-Buffering', 'no')
    return noStore(streamSSE(c, async (stream) => {
      const client = new EventClient(stream, this.maxQueuedBytes, this.batchMs === 0 ? 0 : this.#opened++ % this.batchMs)
      stream.onAbort(() => client.end('client_gone'))
      // A cluster hub just started may still be reading the rows a resuming client wants replayed.
      await this.ready
      // The batch goes out to the others first, so the replay and the live fan-out meet exactly;
      // they happen in one turn: no event falls between, none comes twice.
      this.#writeBatch()
      const replay = this.events.since(lastEventId)
      this.#clients.add(client)
      client.send(encoder.encode(formatSseComment('agentcom events') + this.#replayText(replay)))
      const keepAlive = setInterval(() => {
        client.send(KEEP_ALIVE)
        void stillValid().then((ok) => { if (!ok) client.end('token_invalid') }, () => client.end('token_invalid'))
      }, this.keepAliveMs)
      const reason = await client.done
      clearInterval(keepAlive)
      this.#clients.delete(client)
      if (reason === 'too_slow') {
        this.opts.log.warn('events stream closed: the client is not reading', { max_queued_bytes: this.maxQueuedBytes })
      }
    }))
  }

  /**
   * What a resuming client is sent first: the events it missed, or `event: reset` when they
   * would not fit in its bound (maxQueuedBytes, with room for what comes live): sent whole, they
   * would end the stream before its first byte, and the client would retry into the same.
   */
  #replayText(replay: Replay): string {
    if (replay.reset) return formatSseReset(replay.lastId)
    const budget = this.maxQueuedBytes / 2
    const blocks: string[] = []
    let bytes = 0
    for (const event of replay.events) {
      const block = formatLoggedEvent(event)
      bytes += utf8Length(block)
      if (bytes > budget) return formatSseReset(this.events.lastId)
      blocks.push(block)
    }
    return blocks.join('')
  }

  /** Ends every stream (a runtime's graceful shutdown waits for open responses). */
  close(): void {
    this.#unsubscribe()
    if (this.#batchTimer) clearTimeout(this.#batchTimer)
    this.#batchTimer = null
    this.#batch = []
    for (const client of this.#clients) client.end('hub_closing')
    this.#clients.clear()
  }

  #fanOut(event: LoggedEvent): void {
    if (this.#clients.size === 0) return
    // Encoded once for every client: the runtimes write the same bytes to each socket.
    const bytes = encoder.encode(formatLoggedEvent(event))
    this.#batch.push(bytes)
    this.#batchBytes += bytes.byteLength
    this.#batchTimer ??= setTimeout(() => this.#writeBatch(), this.batchMs)
  }

  #writeBatch(): void {
    if (this.#batchTimer) clearTimeout(this.#batchTimer)
    this.#batchTimer = null
    if (this.#batch.length === 0) return
    const bytes = this.#batch.length === 1 ? this.#batch[0] : concat(this.#batch, this.#batchBytes)
    this.#batch = []
    this.#batchBytes = 0
    for (const client of this.#clients) client.send(bytes)
  }
}

const KEEP_ALIVE = encoder.encode(formatSseComment())

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total)
  let at = 0
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.byteLength
  }
  return out
}
