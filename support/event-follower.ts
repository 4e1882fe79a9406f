/**
 * A client of a hub's events stream (GET /api/admin/events) for the tests: every event as it
 * arrives, parsed, until the test ends (the stream is closed after each test).
 */
import { afterEach, expect } from 'vitest'
import { createSseParser } from '../hub/dashboard/browser/sse-parser.ts'
import { waitFor, type WaitOptions } from './wait.ts'

export interface StreamedEvent {
  event: string
  data: any
}

export interface EventFollower {
  events: StreamedEvent[]
  /** Waits until an event of `kind` whose view passes `accept` has arrived; resolves with its view. */
  until(kind: string, accept: (view: any) => boolean, options?: WaitOptions): Promise<any>
}

const open: AbortController[] = []
afterEach(() => {
  for (const controller of open.splice(0)) controller.abort()
})

export async function followEvents(url: string, token: string): Promise<EventFollower> {
  const controller = new AbortController()
  open.push(controller)
  const res = await fetch(`${url}/api/admin/events`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal })
  expect(res.status).toBe(200)
  const events: StreamedEvent[] = []
  const parser = createSseParser((e) => events.push({ event: e.event, data: e.data ? JSON.parse(e.data) : null }))
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  void (async () => {
    for (let r = await reader.read(); !r.done; r = await reader.read()) parser.push(r.value)
  })().catch(() => undefined) // aborted after the test
  return {
    events,
    async until(kind, accept, options = {}) {
      const found = () => events.find((e) => e.event === kind && accept(e.data))
      return (await waitFor(found, (e) => e !== undefined, { what: `a ${kind} event`, ...options }))!.data
    },
  }
}
