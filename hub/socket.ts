/**
 * One sidecar connection, from upgrade to close: identify, then protocol messages, within the
 * hub's limits (open sockets, frames per second, frame size).
 * Runtime-neutral: it sees only Hono's WSContext and Web API events.
 */
import type { WSContext, WSEvents } from 'hono/ws'
import {
  CLOSE, MAX_FRAME_BYTES, decodeSidecarMessage, utf8Length,
  type HubMessage, type SidecarMessage,
} from '../shared/protocol.ts'
import type { Logger } from '../shared/log.ts'
import type { Clock } from '../shared/time.ts'
import type { AgentRecord, Fleet, Peer } from './fleet.ts'
import type { TaskBoard } from './tasks.ts'
import type { TokenClaims } from './auth.ts'
import { FrameBudget, LIMIT_CLOSE } from './limits.ts'

/** The longest `detail` sent back: a bad field is described, never echoed whole. */
const MAX_DETAIL_CHARS = 200

export interface SocketOptions {
  fleet: Fleet
  tasks: TaskBoard
  verifyToken: (token: string) => Promise<TokenClaims | null>
  log: Logger
  clock: Clock
  identifyTimeoutMs: number
  /** A connection silent for this long is closed as dead. */
  idleTimeoutMs: number
  /** Open sockets beyond this are refused. */
  maxConnections: number
  /** Each socket's frame budget, see FrameBudget. */
  maxFramesPerS: number
  /** Destroys a socket without a closing handshake, for a peer that stopped answering. */
  terminate?: (ws: WSContext) => void
}

/**
 * One open socket's state. A class, not an object literal of closures: ten thousand agents
 * each pay for fields only (docs/benchmarks.md, memory_per_agent).
 */
class Connection implements Peer {
  agent: AgentRecord | null = null
  identifying = false
  identifyTimer: ReturnType<typeof setTimeout> | null = null
  closed = false
  constructor(readonly ws: WSContext, public lastFrameAt: number, readonly budget: FrameBudget) {}

  send(message: HubMessage): void {
    if (!this.closed) this.ws.send(JSON.stringify(message))
  }

  close(code: number, reason: string): void {
    try {
      this.ws.close(code, reason)
    } catch {
      // Already closing: nothing more to do for a socket we are dropping.
    }
  }
}

export function createSocketHub(opts: SocketOptions) {
  const { fleet, tasks, log, clock } = opts
  const connections = new Set<Connection>()

  const heartbeat = setInterval(() => {
    const deadline = clock.now() - opts.idleTimeoutMs
    for (const conn of connections) {
      if (conn.lastFrameAt < deadline) {
        log.warn('closing silent connection', { agent_id: conn.agent?.agent_id ?? null })
        drop(conn, CLOSE.HEARTBEAT_TIMEOUT, 'heartbeat timeout')
        // It stopped answering, so it would never answer our close frame either.
        if (opts.terminate) {
          try {
            opts.terminate(conn.ws)
          } catch {
            // Already gone: nothing left to destroy.
          }
        }
      }
    }
  }, Math.max(1000, Math.floor(opts.idleTimeoutMs / 3)))

  /** Closes and forgets a connection at once, without waiting for the peer's close frame. */
  function drop(conn: Connection, code: number, reason: string): void {
    conn.close(code, reason)
    forget(conn)
  }

  function forget(conn: Connection): void {
    if (conn.closed) return
    conn.closed = true
    connections.delete(conn)
    if (conn.identifyTimer) clearTimeout(conn.identifyTimer)
    const rec = conn.agent
    if (rec && rec.peer === conn) {
      fleet.disconnect(rec, conn)
      tasks.disconnected(rec)
      log.info('agent disconnected', { agent_id: rec.agent_id })
    }
  }

  function fail(conn: Connection, error: string, detail?: string): void {
    if (detail === undefined) return conn.send({ type: 'error', error })
    const short = detail.length > MAX_DETAIL_CHARS ? `${detail.slice(0, MAX_DETAIL_CHARS)}...` : detail
    conn.send({ type: 'error', error, detail: short })
  }

  async function identify(conn: Connection, msg: Extract<SidecarMessage, { type: 'identify' }>): Promise<void> {
    if (conn.agent || conn.identifying) return fail(conn, 'already_identified')
    conn.identifying = true
    const claims = await opts.verifyToken(msg.token)
    conn.identifying = false
    if (conn.closed) return
    if (claims?.role !== 'agent' || claims.sub !== msg.agent_id) {
      log.warn('identify refused', { agent_id: msg.agent_id })
      fail(conn, 'unauthorized')
      return drop(conn, CLOSE.UNAUTHORIZED, 'unauthorized')
    }
    if (conn.identifyTimer) clearTimeout(conn.identifyTimer)
    conn.identifyTimer = null
    // `identified` first: what the hub owes this agent (a pending restart, tasks) follows it.
    conn.send({ type: 'identified', agent_id: msg.agent_id })
    fleet.identify(msg.agent_id, conn, {
      pm2_info: msg.pm2_info, supervised: msg.supervised, instance_id: msg.instance_id ?? null,
    })
    const rec = fleet.get(msg.agent_id)!
    conn.agent = rec
    tasks.identified(rec, msg.active_task_id ?? null)
    log.info('agent identified', {
      agent_id: rec.agent_id, supervised: msg.supervised, pm2_pid: msg.pm2_info?.pid ?? null,
      restart_count: msg.pm2_info?.restart_count ?? null,
    })
  }

  function handle(conn: Connection, msg: SidecarMessage): void {
    if (msg.type === 'identify') {
      void identify(conn, msg).catch((err) => log.error('identify failed', { error: String(err) }))
      return
    }
    const rec = conn.agent
    if (!rec) return fail(conn, 'not_identified', 'the first frame must be identify')
    fleet.seen(rec)
    switch (msg.type) {
      case 'ping':
        return conn.send({ type: 'pong' })
      case 'pm2_info':
        return fleet.reportPm2Info(rec, msg.pm2_info)
      case 'agent_restarting':
        log.info('agent restarting', { agent_id: rec.agent_id, restart_id: msg.restart_id ?? null })
        return fleet.agentRestarting(rec, msg.restart_id)
      case 'task_accepted':
        return tasks.accepted(rec, msg.task_id)
      case 'task_complete':
        return tasks.finished(rec, msg.task_id, { ok: true, result: msg.result })
      case 'task_failed':
        return tasks.finished(rec, msg.task_id, { ok: false, error: msg.error })
      case 'task_interrupted':
        return tasks.interrupted(rec, msg.task_id, msg.reason, msg.started ?? true)
      case 'error':
        return log.warn('agent refused a command', { agent_id: rec.agent_id, error: msg.error, detail: msg.detail ?? null })
    }
  }

  function onMessage(conn: Connection, data: unknown): void {
    const now = clock.now()
    conn.lastFrameAt = now
    // Node's ws enforces this before we see the frame; Deno has no such option.
    if (frameBytes(data) > MAX_FRAME_BYTES) return drop(conn, CLOSE.TOO_BIG, 'frame too large')
    const verdict = conn.budget.take(now)
    if (verdict === 'abusive') {
      log.warn('closing a socket over its frame budget', { agent_id: conn.agent?.agent_id ?? null, max_frames_per_s: opts.maxFramesPerS })
      return drop(conn, LIMIT_CLOSE.RATE_LIMITED, 'rate limited')
    }
    if (verdict === 'limited') return fail(conn, 'rate_limited')
    if (typeof data !== 'string') return fail(conn, 'invalid_message', 'frames must be JSON text')
    let decoded: ReturnType<typeof decodeSidecarMessage>
    try {
      decoded = decodeSidecarMessage(data)
    } catch {
      // decode() describes a bad field with JSON.stringify, which throws on very deep nesting.
      return fail(conn, 'invalid_message', 'frame could not be decoded')
    }
    if (!decoded.ok) return fail(conn, decoded.error, decoded.detail)
    try {
      handle(conn, decoded.value)
    } catch (err) {
      // A bug must cost this frame, not the connection (on Deno, not the process).
      log.error('frame handling failed', { agent_id: conn.agent?.agent_id ?? null, type: decoded.value.type, error: String(err) })
      fail(conn, 'internal_error')
    }
  }

  /** One socket's `upgradeWebSocket` events, as methods: the adapters call them on the object. */
  class ConnectionEvents implements WSEvents {
    conn: Connection | null = null

    onOpen(_event: Event, ws: WSContext): void {
      if (connections.size >= opts.maxConnections) {
        // Upgrades race past isFull() while earlier ones are still opening.
        log.warn('refusing a socket over the connection limit', { max_connections: opts.maxConnections })
        try {
          ws.close(LIMIT_CLOSE.TRY_AGAIN_LATER, 'too many connections')
        } catch {
          // Already closing.
        }
        return
      }
      const now = clock.now()
      const c = new Connection(ws, now, new FrameBudget(opts.maxFramesPerS, now))
      c.identifyTimer = setTimeout(() => {
        c.identifyTimer = null
        if (!c.agent) drop(c, CLOSE.IDENTIFY_TIMEOUT, 'identify timeout')
      }, opts.identifyTimeoutMs)
      this.conn = c
      connections.add(c)
    }

    onMessage(event: MessageEvent): void {
      if (this.conn && !this.conn.closed) onMessage(this.conn, event.data)
    }

    onClose(): void {
      if (this.conn) forget(this.conn)
    }

    onError(event: Event): void {
      log.warn('socket error', { agent_id: this.conn?.agent?.agent_id ?? null, error: String((event as { message?: unknown }).message ?? 'error') })
    }
  }

  /** The `upgradeWebSocket` events for one new connection. */
  function events(): WSEvents {
    return new ConnectionEvents()
  }

  return {
    events,
    get size() {
      return connections.size
    },
    /** True when a new socket would be over the connection limit. */
    isFull(): boolean {
      return connections.size >= opts.maxConnections
    },
    close(): void {
      clearInterval(heartbeat)
      for (const conn of [...connections]) drop(conn, 1001, 'hub shutting down')
    },
  }
}

/** A frame's size in bytes, whatever the runtime hands over (text, ArrayBuffer, view or Blob). */
function frameBytes(data: unknown): number {
  if (typeof data === 'string') return data.length > MAX_FRAME_BYTES / 4 ? utf8Length(data) : data.length
  if (data instanceof ArrayBuffer) return data.byteLength
  if (ArrayBuffer.isView(data)) return data.byteLength
  if (typeof Blob !== 'undefined' && data instanceof Blob) return data.size
  return 0
}
