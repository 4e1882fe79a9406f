/**
 * The tests' one client of a hub's events stream (GET /api/admin/events): every event as it
 * arrives, its data also parsed, until the test ends (each stream is aborted after each test).
 */
import { afterEach, expect } from 'vitest'
import { createSseParser } from '../hub/dashboard/browser/sse-parser.ts'
import { waitFor, type WaitOptions } from './wait.ts'

export interface StreamedEvent {
  id: string | null
  event: string
  /** As sent. */
  data: string
  /** `data` parsed (null when empty). */
  view: any
}

export interface EventFollower {
  events: StreamedEvent[]
  /** Waits until `accept(events)` holds; fails at once if the stream ends first. */
  until(accept: (events: StreamedEvent[]) => boolean, options?: WaitOptions): Promise<StreamedEvent[]>
  /** Waits for an event of `kind` whose view passes `accept`; resolves with that view. */
  untilEvent(kind: string, accept: (view: any) => boolean, options?: WaitOptions): Promise<any>
  stop(): void
}

const open: AbortController[] = []
afterEach(() => {
  for (const controller of open.splice(0)) controller.abort()
})

/** Follows the stream of the hub at `url` (its base URL) with `token`; resumes after `lastEventId` if given. */
export async function followEvents(url: string, token: string, { lastEventId }: { lastEventId?: string } = {}): Promise<EventFollower> {
  const controller = new AbortController()
  open.push(controller)
  const headers: Record<string, string> = { authorization: `Bearer ${token}` }
  if (lastEventId) headers['last-event-id'] = lastEventId
  const res = await fetch(`${url}/api/admin/events`, { headers, signal: controller.signal })
  expect(res.status).toBe(200)
  const events: StreamedEvent[] = []
  const parser = createSseParser((e) => events.push({ ...e, view: e.data ? JSON.parse(e.data) : null }))
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  let ended = false
  void (async () => {
    for (let r = await reader.read(); !r.done; r = await reader.read()) parser.push(r.value)
  })().catch(() => undefined).finally(() => { ended = true }) // aborted after the test
  const until = (accept: (events: StreamedEvent[]) => boolean, options: WaitOptions = {}) => waitFor(() => {
    if (ended && !accept(events)) throw new Error(`stream ended; got ${JSON.stringify(events.map((e) => [e.id, e.event, e.data.slice(0, 80)]))}`)
    return events
  }, accept, { timeoutMs: 10_000, intervalMs: 20, what: 'events on the stream', ...options })
  return {
    events,
    until,
    async untilEvent(kind, accept, options = {}) {
      const matches = (e: StreamedEvent) => e.event === kind && accept(e.view)
      await until((all) => all.some(matches), { what: `a ${kind} event`, ...options })
      return events.find(matches)!.view
    },
    stop: () => controller.abort(),
  }
}
