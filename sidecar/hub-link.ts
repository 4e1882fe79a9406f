/**
 * The sidecar's connection to the hub: connects, hands each open socket to `onOpen` (which
 * identifies), pings, notices a dead hub, and reconnects with capped exponential backoff
 * and jitter so a fleet does not return as one burst.
 */
import WebSocket from 'ws'
import { CLOSE, decodeHubMessage, type HubMessage, type SidecarMessage } from '../shared/protocol.ts'
import type { Logger } from '../shared/log.ts'
import { SECOND } from '../shared/time.ts'

export const LINK_DEFAULTS = {
  backoffBaseMs: 500,
  backoffMaxMs: 30 * SECOND,
  pingIntervalMs: 15 * SECOND,
  /** No frame from the hub for this long after a ping: the hub is gone. */
  pongTimeoutMs: 10 * SECOND,
} as const

export interface HubLinkOptions {
  /** The hub, or several hubs of a cluster: tried in turn, moving on whenever a connection fails or drops. */
  url: string | readonly string[]
  log: Logger
  onOpen(): void
  onMessage(message: HubMessage): void
  onClose?(code: number): void
  random?: () => number
  backoffBaseMs?: number
  backoffMaxMs?: number
  pingIntervalMs?: number
  pongTimeoutMs?: number
}

/** Delay before reconnect attempt `attempt` (0-based): half fixed, half random, capped. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30))
  return Math.round(ceiling / 2 + random() * (ceiling / 2))
}

export interface HubLink {
  readonly connected: boolean
  /** Sends a frame; resolves once it is written to the socket (false if not connected). */
  send(message: SidecarMessage): Promise<boolean>
  /** Tells the link an identify was accepted, so backoff starts over. */
  identified(): void
  /** Closes for good with `code` and resolves when the socket is closed. */
  close(code?: number, reason?: string): Promise<void>
}

export function createHubLink(opts: HubLinkOptions): HubLink {
  const o = { ...LINK_DEFAULTS, random: Math.random, ...opts }
  const urls = typeof o.url === 'string' ? [o.url] : [...o.url]
  if (urls.length === 0) throw new Error('createHubLink needs at least one hub URL')
  let next = 0
  let ws: WebSocket | null = null
  let attempt = 0
  let stopped = false
  let reconnectTimer: ReturnType<typeof setTimeout> | null = null
  let pingTimer: ReturnType<typeof setInterval> | null = null
  let deadTimer: ReturnType<typeof setTimeout> | null = null

  function connect(): void {
    reconnectTimer = null
    if (stopped) return
    const url = urls[next]
    // The next attempt goes to the next hub: one that failed or dropped this connection may be gone.
    next = (next + 1) % urls.length
    const socket = new WebSocket(url, { handshakeTimeout: 10 * SECOND, maxPayload: 1024 * 1024 })
    ws = socket
    socket.on('open', () => {
      o.log.info('connected to hub', { url })
      startHeartbeat(socket)
      o.onOpen()
    })
    socket.on('message', (data, isBinary) => {
      alive()
      if (isBinary) return
      const decoded = decodeHubMessage(data.toString())
      if (!decoded.ok) {
        o.log.warn('bad frame from hub', { error: decoded.error, detail: decoded.detail })
        return
      }
      o.onMessage(decoded.value)
    })
    socket.on('error', (err) => {
      o.log.warn('hub connection error', { error: err.message })
    })
    socket.on('close', (code) => {
      stopHeartbeat()
      if (ws === socket) ws = null
      o.onClose?.(code)
      if (stopped) return
      // Refused or replaced: retrying fast would only hammer the hub or fight the other copy.
      const slow = code === CLOSE.UNAUTHORIZED || code === CLOSE.REPLACED
      const delay = slow ? o.backoffMaxMs : backoffDelay(attempt++, o.backoffBaseMs, o.backoffMaxMs, o.random)
      o.log[slow ? 'error' : 'info']('hub connection closed; reconnecting', { code, delay_ms: delay })
      reconnectTimer = setTimeout(connect, delay)
    })
  }

  function startHeartbeat(socket: WebSocket): void {
    stopHeartbeat()
    pingTimer = setInterval(() => {
      if (socket.readyState !== WebSocket.OPEN) return
      socket.send(JSON.stringify({ type: 'ping' }))
      deadTimer ??= setTimeout(() => {
        o.log.warn('hub stopped answering; dropping the connection', { timeout_ms: o.pongTimeoutMs })
        socket.terminate()
      }, o.pongTimeoutMs)
    }, o.pingIntervalMs)
  }

  /** Any frame from the hub proves it alive. */
  function alive(): void {
    if (deadTimer) clearTimeout(deadTimer)
    deadTimer = null
  }

  function stopHeartbeat(): void {
    if (pingTimer) clearInterval(pingTimer)
    pingTimer = null
    alive()
  }

  connect()

  return {
    get connected() {
      return ws?.readyState === WebSocket.OPEN
    },
    send(message) {
      const socket = ws
      if (!socket || socket.readyState !== WebSocket.OPEN) return Promise.resolve(false)
      return new Promise((resolve) => socket.send(JSON.stringify(message), (err) => resolve(!err)))
    },
    identified() {
      attempt = 0
    },
    close(code = 1000, reason = '') {
      stopped = true
      if (reconnectTimer) clearTimeout(reconnectTimer)
      stopHeartbeat()
      const socket = ws
      if (!socket || socket.readyState === WebSocket.CLOSED) return Promise.resolve()
      return new Promise((resolve) => {
        const force = setTimeout(() => socket.terminate(), 2 * SECOND)
        socket.once('close', () => {
          clearTimeout(force)
          resolve()
        })
        if (socket.readyState === WebSocket.CONNECTING) socket.terminate()
        else socket.close(code, reason)
      })
    },
  }
}
