/**
 * The events stream read with fetch(), since EventSource cannot send an Authorization header and
 * the token must never go into a URL. Reconnects with Last-Event-ID and a capped, jittered
 * backoff; a stream silent for 45 s (the hub comments at least every 15 s) counts as dropped.
 */
import { createSseParser, type ParsedEvent } from './sse-parser.ts'

const SILENT_MS = 45_000
const MAX_BACKOFF_MS = 30_000

export interface EventStreamOptions {
  url: string
  token: () => string
  /** The hub answered 200; `resumed` when it was asked to replay from a Last-Event-ID. */
  onOpen: (resumed: boolean) => void
  onEvent: (e: ParsedEvent) => void
  /** The stream dropped; the next try is in `ms`. */
  onDown: (ms: number) => void
  onUnauthorized: () => void
  /** The hub has no events route (404, 405, 501). */
  onUnavailable: (status: number) => void
}

/** Keeps one events stream open until stop(). */
export function openEventStream(opts: EventStreamOptions): { stop(): void } {
  let lastId: string | null = null
  let attempt = 0
  let retryMs = 1000
  let stopped = false
  let controller: AbortController | null = null
  let retryTimer: ReturnType<typeof setTimeout> | undefined
  let watchdog: ReturnType<typeof setTimeout> | undefined
  function armWatchdog(): void {
    clearTimeout(watchdog)
    watchdog = setTimeout(() => controller?.abort(), SILENT_MS)
  }
  function scheduleRetry(): void {
    if (stopped) return
    let delay = Math.min(MAX_BACKOFF_MS, retryMs * 2 ** Math.min(attempt, 5))
    delay = Math.round(delay * (0.75 + Math.random() * 0.5))
    attempt++
    opts.onDown(delay)
    retryTimer = setTimeout(() => void connect(), delay)
  }
  async function connect(): Promise<void> {
    if (stopped) return
    controller = new AbortController()
    const headers: Record<string, string> = { authorization: `Bearer ${opts.token()}`, accept: 'text/event-stream' }
    if (lastId !== null) headers['last-event-id'] = lastId
    armWatchdog()
    try {
      const res = await fetch(opts.url, { headers, credentials: 'omit', cache: 'no-store', signal: controller.signal })
      if (res.status === 401) { stop(); opts.onUnauthorized(); return }
      if (res.status === 404 || res.status === 405 || res.status === 501) { stop(); opts.onUnavailable(res.status); return }
      if (!res.ok || !res.body) throw new Error(`events stream answered ${res.status}`)
      attempt = 0
      opts.onOpen(lastId !== null)
      const parser = createSseParser((e) => {
        if (e.id !== null) lastId = e.id
        opts.onEvent(e)
      }, (ms) => { retryMs = Math.max(500, Math.min(ms, MAX_BACKOFF_MS)) })
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      for (;;) {
        const r = await reader.read()
        if (r.done) throw new Error('events stream ended')
        armWatchdog()
        parser.push(r.value)
        if (parser.lastId !== null) lastId = parser.lastId
      }
    } catch {
      // Dropped, aborted by the watchdog, or refused mid-way: the backoff decides when to try again.
      clearTimeout(watchdog)
      scheduleRetry()
    }
  }
  function stop(): void {
    stopped = true
    clearTimeout(retryTimer)
    clearTimeout(watchdog)
    controller?.abort()
  }
  void connect()
  return { stop }
}
