/**
 * Alerts to AGENTCOM_ALERT_WEBHOOK_URL: each one POSTed as JSON, retried with back-off for up to
 * 5 minutes, never blocking the hub. Every delivery carries `X-AgentCom-Delivery`, one id per
 * alert (the same on each retry, so a receiver can drop a repeat), and with a secret
 * (AGENTCOM_ALERT_WEBHOOK_SECRET) `X-AgentCom-Signature-256: sha256=<hex HMAC-SHA256 of the
 * exact body>`, so a receiver can tell our alerts from forged POSTs. `send()` only queues; one alert is in flight at a time, in
 * the order they were sent, so a webhook that is down is not hammered by every alert at once and
 * a chat shows them in order. The URL is never logged: webhook URLs often carry their secret.
 */
import { coerceError, type Logger } from '../../shared/log.ts'
import { MINUTE, SECOND, systemClock, type Clock } from '../../shared/time.ts'
import type { HealingAlert } from '../healing/healing-policy.ts'

type Timer = ReturnType<typeof setTimeout>

/** The fleet's own alerts (hub/alerts/fleet-alerts.ts): an agent gone or back, a rollout failed. */
export type FleetAlert =
  | { type: 'agent_offline' | 'agent_recovered'; agent_id: string; detail: string; at: number }
  | { type: 'rollout_failed'; rollout_id: string; agent_id: string | null; detail: string; at: number }

/** Every alert the hub sends. */
export type Alert = HealingAlert | FleetAlert

export const DELIVERY_HEADER = 'x-agentcom-delivery'
export const SIGNATURE_HEADER = 'x-agentcom-signature-256'

/** The timers the sender arms; tests pass vitest's fake ones by default, or their own. */
export interface AlertTimers {
  setTimeout(fn: () => void, ms: number): Timer
  clearTimeout(timer: Timer): void
}

/** Only what the sender uses of `fetch`. */
export type AlertFetch = (url: string, init: { method: 'POST'; headers: Record<string, string>; body: string; signal: AbortSignal }) =>
  Promise<{ ok: boolean; status: number; body?: { cancel(): Promise<void> } | null }>

export interface AlertSenderOptions {
  url: string
  /** AGENTCOM_ALERT_WEBHOOK_SECRET: each delivery is signed with it. Default: unsigned. */
  secret?: string
  log: Logger
  /** Default: the global fetch. */
  fetch?: AlertFetch
  clock?: Clock
  timers?: AlertTimers
  /** First retry delay, doubled after each failure up to `maxDelayMs` (default 1 s, 60 s). */
  firstDelayMs?: number
  maxDelayMs?: number
  /** How long an alert is retried, counted from `send()` (default 5 minutes). */
  giveUpMs?: number
  /** A POST not answered within this is a failure (default 10 s). */
  requestTimeoutMs?: number
  /** Alerts waiting at most; past it the oldest waiting one is dropped (default 1000). */
  maxPending?: number
  /** Told once per alert how its delivery ended: delivered, or dropped (GET /metrics counts them). */
  onOutcome?(alert: Alert, result: 'delivered' | 'failed'): void
}

export interface AlertSender {
  /** Queues the alert and returns at once; delivery failures are logged, never thrown. */
  send(alert: Alert): void
  /** Alerts not yet delivered nor dropped, the one in flight included. */
  readonly pending: number
  /** Stops retrying and aborts the POST in flight; what is pending is dropped. */
  close(): void
}

export const ALERT_DEFAULTS = {
  firstDelayMs: SECOND,
  maxDelayMs: MINUTE,
  giveUpMs: 5 * MINUTE,
  requestTimeoutMs: 10 * SECOND,
  maxPending: 1000,
} as const

interface Entry {
  alert: Alert
  body: string
  /** X-AgentCom-Delivery: one per alert, kept across its retries. */
  deliveryId: string
  /** Its headers; with a secret, signed on the first attempt and kept for the retries. */
  headers: Record<string, string> | null
  /** When `send()` queued it: its retries end `giveUpMs` later. */
  since: number
  attempts: number
}

const defaultTimers: AlertTimers = {
  // Looked up at each call, so fake timers installed after construction still apply.
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer),
}

export function createAlertSender(opts: AlertSenderOptions): AlertSender {
  if (!/^https?:$/.test(safeProtocol(opts.url))) throw new Error('AGENTCOM_ALERT_WEBHOOK_URL must be an http:// or https:// URL')
  const o = { ...ALERT_DEFAULTS, ...definedOnly(opts) }
  for (const key of ['firstDelayMs', 'maxDelayMs', 'giveUpMs', 'requestTimeoutMs', 'maxPending'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 1) throw new Error(`alert sender option ${key} must be a positive integer`)
  }
  const log = opts.log
  const clock = opts.clock ?? systemClock
  const timers = opts.timers ?? defaultTimers
  const doFetch: AlertFetch = opts.fetch ?? ((url, init) => fetch(url, init))
  const queue: Entry[] = []
  let inFlight: Entry | null = null
  let retryTimer: Timer | null = null
  let abortInFlight: AbortController | null = null
  let closed = false

  const sign = opts.secret === undefined ? null : hmacHex(opts.secret)
  const plainHeaders = (e: Entry): Record<string, string> => ({ 'content-type': 'application/json', [DELIVERY_HEADER]: e.deliveryId })
  const signedHeaders = async (e: Entry) => ({ ...plainHeaders(e), [SIGNATURE_HEADER]: `sha256=${await sign!(e.body)}` })
  const fields = (e: Entry) => ({
    type: e.alert.type, agent_id: e.alert.agent_id, rule: 'rule' in e.alert ? e.alert.rule : undefined, delivery: e.deliveryId, attempts: e.attempts,
  })

  function remove(entry: Entry): void {
    const i = queue.indexOf(entry)
    if (i >= 0) queue.splice(i, 1)
  }

  /** Null on a 2xx answer, else why it failed. */
  async function post(entry: Entry): Promise<string | null> {
    const controller = new AbortController()
    abortInFlight = controller
    const timeout = timers.setTimeout(() => controller.abort(), o.requestTimeoutMs)
    try {
      const headers = entry.headers ?? (entry.headers = await signedHeaders(entry))
      const res = await doFetch(opts.url, { method: 'POST', headers, body: entry.body, signal: controller.signal })
      // The answer's body is not read: release the connection.
      await res.body?.cancel().catch(() => {})
      return res.ok ? null : `HTTP ${res.status}`
    } catch (err) {
      return controller.signal.aborted && !closed ? `no answer within ${o.requestTimeoutMs} ms` : coerceError(err).message
    } finally {
      timers.clearTimeout(timeout)
      abortInFlight = null
    }
  }

  async function pump(): Promise<void> {
    while (!closed && queue.length > 0) {
      const entry = queue[0]
      const deadline = entry.since + o.giveUpMs
      if (clock.now() > deadline) {
        // It waited behind other alerts past its own deadline.
        queue.shift()
        log.error('alert dropped: not delivered within its retry time', fields(entry))
        opts.onOutcome?.(entry.alert, 'failed')
        continue
      }
      inFlight = entry
      entry.attempts++
      const error = await post(entry)
      inFlight = null
      if (closed) return
      if (error === null) {
        remove(entry)
        log.info('alert delivered', fields(entry))
        opts.onOutcome?.(entry.alert, 'delivered')
        continue
      }
      const now = clock.now()
      if (now >= deadline) {
        remove(entry)
        log.error('alert dropped: not delivered within its retry time', { ...fields(entry), error })
        opts.onOutcome?.(entry.alert, 'failed')
        continue
      }
      const delay = Math.min(o.firstDelayMs * 2 ** Math.min(entry.attempts - 1, 30), o.maxDelayMs, deadline - now)
      log.warn('alert not delivered, will retry', { ...fields(entry), error, retry_in_ms: delay })
      retryTimer = timers.setTimeout(() => {
        retryTimer = null
        void pump()
      }, delay)
      return
    }
  }

  return {
    send(alert) {
      if (closed) {
        log.warn('alert not sent: the sender is closed', { type: alert.type, agent_id: alert.agent_id })
        return
      }
      const entry: Entry = { alert, body: JSON.stringify(alert), deliveryId: crypto.randomUUID(), headers: null, since: clock.now(), attempts: 0 }
      // Unsigned headers need no await: the first POST goes out within this call.
      if (!sign) entry.headers = plainHeaders(entry)
      if (queue.length >= o.maxPending) {
        // The oldest waiting one goes; the one in flight finishes its attempt.
        const oldest = queue.find((e) => e !== inFlight)
        if (!oldest) {
          log.error('alert dropped: too many pending', fields(entry))
          opts.onOutcome?.(entry.alert, 'failed')
          return
        }
        remove(oldest)
        log.error('alert dropped: too many pending', fields(oldest))
        opts.onOutcome?.(oldest.alert, 'failed')
      }
      queue.push(entry)
      if (!inFlight && !retryTimer) void pump()
    },
    get pending() {
      return queue.length
    },
    close() {
      closed = true
      if (retryTimer) timers.clearTimeout(retryTimer)
      retryTimer = null
      abortInFlight?.abort()
      if (queue.length > 0) log.warn('alert sender closed with alerts pending', { pending: queue.length })
      queue.length = 0
    },
  }
}

/** HMAC-SHA256 under `secret`, as lowercase hex (WebCrypto: the same on Node and Deno). */
function hmacHex(secret: string): (body: string) => Promise<string> {
  const encoder = new TextEncoder()
  const key = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  return async (body) => {
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', await key, encoder.encode(body)))
    return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join('')
  }
}

function safeProtocol(url: string): string {
  try {
    return new URL(url).protocol
  } catch {
    return '' // not a URL: the caller's check names the setting
  }
}

function definedOnly<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>
}
