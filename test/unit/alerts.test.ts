/**
 * The alert sender: JSON POSTs that never block the caller, retried with doubling delays for 5
 * minutes then dropped, a bounded queue, close(); on fake timers with a recording fetch, and once
 * against a real HTTP server.
 */
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { waitUntil } from '../../support/wait.ts'
import { createAlertSender, type AlertFetch, type AlertSender } from '../../hub/alerts/alerts.ts'
import type { HealingAlert } from '../../hub/healing/healing-policy.ts'
import type { LogFields, Logger } from '../../shared/log.ts'

const URL_WITH_SECRET = 'https://hooks.example.test/services/T000/SECRET-PART'
const T0 = Date.UTC(2030, 0, 1)

function alert(n: number): HealingAlert {
  return { type: 'heal_escalated', agent_id: `a-${n}`, rule: 'memory', detail: `detail ${n}`, at: T0 + n }
}

function recordingLog() {
  const lines: { level: string; msg: string; fields: LogFields }[] = []
  const at = (level: string) => (msg: string, fields: LogFields = {}) => { lines.push({ level, msg, fields }) }
  const log: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
  return { log, lines }
}

/** A fetch that records each call and answers from `answer` (a status, an error, or a promise to hold). */
function recordingFetch(answer: (call: number) => number | Error | Promise<number>) {
  const calls: { at: number; url: string; headers: Record<string, string>; body: string }[] = []
  const fetch: AlertFetch = async (url, init) => {
    calls.push({ at: Date.now() - T0, url, headers: init.headers, body: init.body })
    const a = answer(calls.length)
    const status = a instanceof Error ? Promise.reject(a) : a
    const abort = new Promise<never>((_, reject) => init.signal.addEventListener('abort', () => reject(new Error('aborted'))))
    return new Response(null, { status: await Promise.race([status, abort]) })
  }
  return { fetch, calls }
}

describe('alert sender on fake timers', () => {
  let sender: AlertSender | null = null
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 })
  })
  afterEach(() => {
    sender?.close()
    sender = null
    vi.useRealTimers()
  })

  it('returns at once and POSTs the alert as JSON', async () => {
    let release!: (status: number) => void
    const { fetch, calls } = recordingFetch(() => new Promise<number>((r) => { release = r }))
    const { log } = recordingLog()
    sender = createAlertSender({ url: URL_WITH_SECRET, fetch, log })
    sender.send(alert(1))
    expect(sender.pending).toBe(1)
    expect(calls).toEqual([{
      at: 0, url: URL_WITH_SECRET, body: JSON.stringify(alert(1)),
      headers: { 'content-type': 'application/json', 'x-agentcom-delivery': expect.stringMatching(/^[0-9a-f-]{36}$/) },
    }])
    release(204)
    await vi.advanceTimersByTimeAsync(0)
    expect(sender.pending).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('retries after 1 s, doubling up to 60 s, for 5 minutes, then drops it with an error line', async () => {
    const { fetch, calls } = recordingFetch(() => 500)
    const { log, lines } = recordingLog()
    sender = createAlertSender({ url: URL_WITH_SECRET, fetch, log })
    sender.send(alert(1))
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(calls.map((c) => c.at / 1000)).toEqual([0, 1, 3, 7, 15, 31, 63, 123, 183, 243, 300])
    expect(sender.pending).toBe(0)
    expect(lines.filter((l) => l.level === 'warn').map((l) => l.fields.retry_in_ms)).toEqual([1, 2, 4, 8, 16, 32, 60, 60, 60, 57].map((s) => s * 1000))
    expect(lines.filter((l) => l.level === 'error')).toEqual([{
      level: 'error', msg: 'alert dropped: not delivered within its retry time',
      fields: { type: 'heal_escalated', agent_id: 'a-1', rule: 'memory', delivery: expect.any(String), attempts: 11, error: 'HTTP 500' },
    }])
    expect(JSON.stringify(lines)).not.toContain('SECRET')
    expect(vi.getTimerCount()).toBe(0)
  })

  it('counts a network error and an unanswered POST as failures, and stops once delivered', async () => {
    const { fetch, calls } = recordingFetch((n) => (n === 1 ? new Error('connect ECONNREFUSED') : n === 2 ? new Promise<number>(() => {}) : 200))
    const { log, lines } = recordingLog()
    sender = createAlertSender({ url: URL_WITH_SECRET, fetch, log, requestTimeoutMs: 5000 })
    sender.send(alert(1))
    await vi.advanceTimersByTimeAsync(60_000)
    // Refused at 0, retried at 1 s, no answer until 6 s, retried 2 s later.
    expect(calls.map((c) => c.at)).toEqual([0, 1000, 8000])
    expect(lines.filter((l) => l.level === 'warn').map((l) => l.fields.error)).toEqual(['connect ECONNREFUSED', 'no answer within 5000 ms'])
    expect(lines.at(-1)).toMatchObject({ level: 'info', msg: 'alert delivered', fields: { agent_id: 'a-1', attempts: 3 } })
    expect(sender.pending).toBe(0)
  })

  it('delivers in order, one at a time, and an alert queued behind an outage gets its own 5 minutes', async () => {
    let down = true
    const { fetch, calls } = recordingFetch(() => (down ? 503 : 200))
    sender = createAlertSender({ url: URL_WITH_SECRET, fetch, log: recordingLog().log })
    sender.send(alert(1))
    await vi.advanceTimersByTimeAsync(2000)
    sender.send(alert(2))
    sender.send(alert(3))
    expect(calls.map((c) => JSON.parse(c.body).agent_id)).toEqual(['a-1', 'a-1'])
    await vi.advanceTimersByTimeAsync(298_000)
    // The first was dropped at 300 s; the second is tried at once.
    expect(calls.slice(-2).map((c) => [c.at / 1000, JSON.parse(c.body).agent_id])).toEqual([[300, 'a-1'], [300, 'a-2']])
    down = false
    await vi.advanceTimersByTimeAsync(1000)
    expect(calls.slice(-2).map((c) => [c.at / 1000, JSON.parse(c.body).agent_id])).toEqual([[301, 'a-2'], [301, 'a-3']])
    expect(sender.pending).toBe(0)
  })

  it('keeps at most maxPending, dropping the oldest waiting one with an error line', async () => {
    let release!: (status: number) => void
    const { fetch, calls } = recordingFetch((n) => (n === 1 ? new Promise<number>((r) => { release = r }) : 200))
    const { log, lines } = recordingLog()
    sender = createAlertSender({ url: URL_WITH_SECRET, fetch, log })
    for (let n = 1; n <= 1002; n++) sender.send(alert(n))
    expect(sender.pending).toBe(1000)
    expect(lines.filter((l) => l.level === 'error').map((l) => [l.msg, l.fields.agent_id])).toEqual([
      ['alert dropped: too many pending', 'a-2'], ['alert dropped: too many pending', 'a-3'],
    ])
    release(200)
    await vi.advanceTimersByTimeAsync(0)
    const delivered = calls.map((c) => JSON.parse(c.body).agent_id)
    expect(delivered).toHaveLength(1000)
    expect(delivered.slice(0, 3)).toEqual(['a-1', 'a-4', 'a-5'])
    expect(delivered.at(-1)).toBe('a-1002')
    expect(sender.pending).toBe(0)
  })

  it('close() stops retrying, drops what is pending and ignores later alerts', async () => {
    const { fetch, calls } = recordingFetch(() => 500)
    const { log, lines } = recordingLog()
    sender = createAlertSender({ url: URL_WITH_SECRET, fetch, log })
    sender.send(alert(1))
    await vi.advanceTimersByTimeAsync(0)
    expect(vi.getTimerCount()).toBe(1)
    sender.close()
    expect(vi.getTimerCount()).toBe(0)
    sender.send(alert(2))
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(calls).toHaveLength(1)
    expect(sender.pending).toBe(0)
    expect(lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([
      'alert not delivered, will retry', 'alert sender closed with alerts pending', 'alert not sent: the sender is closed',
    ])
  })

  it('refuses a URL that is not http(s), without echoing it', () => {
    const { log } = recordingLog()
    expect(() => createAlertSender({ url: 'ftp://x/secret', log })).toThrow(/^AGENTCOM_ALERT_WEBHOOK_URL must be an http:\/\/ or https:\/\/ URL$/)
    expect(() => createAlertSender({ url: 'not a url', log })).toThrow(/^AGENTCOM_ALERT_WEBHOOK_URL must be/)
    expect(() => createAlertSender({ url: URL_WITH_SECRET, log, maxPending: 0 })).toThrow(/^alert sender option maxPending must be a positive integer$/)
  })
})

describe('alert sender against a real HTTP server', () => {
  it('retries a 500 and delivers the exact JSON body', async () => {
    const received: { method?: string; type?: string; body: string }[] = []
    let delivered!: () => void
    const done = new Promise<void>((r) => { delivered = r })
    const server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        received.push({ method: req.method, type: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') })
        res.statusCode = received.length === 1 ? 500 : 200
        res.end(received.length === 1 ? 'try later' : 'ok')
        if (received.length === 2) delivered()
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const { port } = server.address() as AddressInfo
    const { log, lines } = recordingLog()
    const sender = createAlertSender({ url: `http://127.0.0.1:${port}/hook`, log, firstDelayMs: 50 })
    try {
      const sent: HealingAlert = { type: 'agent_quarantined', agent_id: 'worker-1', rule: 'crash_loop', detail: '3 unplanned restarts within 600 s', at: 1_767_225_600_000 }
      sender.send(sent)
      await done
      await waitUntil(() => expect(sender.pending).toBe(0))
      const body = '{"type":"agent_quarantined","agent_id":"worker-1","rule":"crash_loop","detail":"3 unplanned restarts within 600 s","at":1767225600000}'
      expect(received).toEqual([
        { method: 'POST', type: 'application/json', body },
        { method: 'POST', type: 'application/json', body },
      ])
      expect(lines.map((l) => [l.level, l.msg, l.fields.error ?? null])).toEqual([
        ['warn', 'alert not delivered, will retry', 'HTTP 500'], ['info', 'alert delivered', null],
      ])
    } finally {
      sender.close()
      await new Promise<void>((r) => server.close(() => r()))
    }
  })
})
