/**
 * One in-process hub for the `GET /api/admin/events` tests (test/unit/events-route*.test.ts):
 * `useEventsHub()` registers the hooks that start it before each test (with an admin token and
 * no warnings yet) and close it after; `hub` is the current one, `start()` replaces it with other
 * options. Agents join through the fleet's identify path with a recording Peer, as in
 * routes.test.ts; `open()` reads the stream as a client would, with the dashboard's own SSE parser.
 */
import { afterEach, beforeEach, vi } from 'vitest'
import type { HubOptions } from '../hub/app.ts'
import { createTestHub, type OneHub } from './in-process-hub.ts'
import { signAdminToken } from '../hub/auth/auth.ts'
import { createSseParser } from '../hub/dashboard/browser/sse-parser.ts'
import { silentLogger, type Logger } from '../shared/log.ts'

export const SECRET = 's'.repeat(40)

export type SseEvent = { id: string | null; event: string; data: string }
export let hub: OneHub
export let admin: string
/** What the hub logged at warn level in this test. */
export const warnings: string[] = []
const log: Logger = { ...silentLogger, warn: (msg) => warnings.push(msg) }

/** Closes this test's hub, if any, and starts another with these options (closed after the test). */
export function start(options: Partial<HubOptions> = {}) {
  hub?.close()
  hub = createTestHub({ secret: SECRET, log, ...options })
}

export function useEventsHub(): void {
  beforeEach(async () => {
    warnings.length = 0
    admin = await signAdminToken(SECRET)
    start()
  })
  afterEach(() => {
    vi.useRealTimers()
    hub.close()
  })
}

export function connect(agentId: string) {
  const peer = { send: () => {}, close: () => {} }
  hub.fleet.identify(agentId, peer, {
    supervised: true, instance_id: 'i-1',
    pm2_info: { name: `agentcom-${agentId}`, pm_id: 1, pid: 1000, status: 'online', uptime_ms: 5, restart_count: 0, memory_bytes: 1 },
  })
  hub.tasks.identified(hub.fleet.get(agentId)!, null)
}

/** Opens the stream; `next()` resolves with the next parsed event, `text` holds every byte read. */
export async function open(headers: Record<string, string> = {}) {
  const res = await hub.app.request('/api/admin/events', { headers: { authorization: `Bearer ${admin}`, ...headers } })
  const events: SseEvent[] = []
  const raw = { text: '' }
  const parser = createSseParser((e) => events.push(e))
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  let ended = false
  async function readOnce(): Promise<void> {
    const r = await reader.read()
    if (r.done) {
      ended = true
      return
    }
    raw.text += r.value
    parser.push(r.value)
  }
  return {
    res, raw, events,
    get ended() { return ended },
    async next(): Promise<SseEvent> {
      while (events.length === 0) {
        if (ended) throw new Error(`stream ended; read: ${raw.text}`)
        await readOnce()
      }
      return events.shift()!
    },
    /** Reads until `accept(raw text)` holds or the stream ends. */
    async readUntil(accept: (text: string) => boolean): Promise<void> {
      while (!accept(raw.text) && !ended) await readOnce()
    },
    cancel: () => reader.cancel(),
  }
}
