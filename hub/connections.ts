/**
 * The open sidecar sockets of this hub: the registry, its limits (open sockets, each socket's
 * frame budget), the identify deadline and the heartbeat that closes silent sockets.
 * Runtime-neutral: it sees only Hono's WSContext.
 */
import type { WSContext } from 'hono/ws'
import { CLOSE, ERROR, type HubMessage } from '../shared/protocol.ts'
import type { Logger } from '../shared/log.ts'
import type { Clock } from '../shared/time.ts'
import type { Peer } from './bus.ts'
import type { AgentRecord } from './fleet.ts'
import { FrameBudget } from './limits.ts'

/**
 * One open socket's state. A class with its methods on the prototype, not an object literal of
 * closures: ten thousand agents each pay for fields only (docs/benchmarks.md, memory_per_agent).
 * It holds the WSContext and nothing of the upgrade request.
 */
export class Connection implements Peer {
  agent: AgentRecord | null = null
  identifying = false
  identifyTimer: ReturnType<typeof setTimeout> | null = null
  closed = false
  /** The token this connection identified with: revoking it, or its expiry, closes it. */
  credential: { jti: string; expiresAtMs: number | null } | null = null
  constructor(
    readonly ws: WSContext,
    public lastFrameAt: number,
    readonly budget: FrameBudget,
    /** The peer's address as the runtime saw it (for logs), or null when it cannot tell. */
    readonly peerAddress: string | null,
  ) {}

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

export interface ConnectionOptions {
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
  /** A connection is gone (closed by either side); called once per connection. */
  onGone(conn: Connection): void
}

export function createConnections(opts: ConnectionOptions) {
  const { log, clock } = opts
  const connections = new Set<Connection>()

  const heartbeat = setInterval(() => {
    const now = clock.now()
    const deadline = now - opts.idleTimeoutMs
    for (const conn of connections) {
      const expiresAt = conn.credential?.expiresAtMs ?? null
      if (expiresAt !== null && expiresAt <= now) {
        log.info('closing a connection whose token expired', { agent_id: conn.agent?.agent_id ?? null, peer: conn.peerAddress })
        drop(conn, CLOSE.UNAUTHORIZED, 'token expired')
        continue
      }
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
    opts.onGone(conn)
  }

  function identifyExpired(conn: Connection): void {
    conn.identifyTimer = null
    if (!conn.agent) drop(conn, CLOSE.IDENTIFY_TIMEOUT, 'identify timeout')
  }

  /** A new socket: registered, or refused (closed 1013) over the limit, then null. */
  function open(ws: WSContext, peerAddress: string | null = null): Connection | null {
    if (connections.size >= opts.maxConnections) {
      // Upgrades race past isFull() while earlier ones are still opening.
      log.warn('refusing a socket over the connection limit', { max_connections: opts.maxConnections })
      try {
        ws.close(CLOSE.TRY_AGAIN_LATER, 'too many connections')
      } catch {
        // Already closing.
      }
      return null
    }
    const now = clock.now()
    const c = new Connection(ws, now, new FrameBudget(opts.maxFramesPerS, now), peerAddress)
    // One shared handler with the connection as its argument: no closure per socket.
    c.identifyTimer = setTimeout(identifyExpired, opts.identifyTimeoutMs, c)
    connections.add(c)
    return c
  }

  return {
    open,
    drop,
    forget,
    get size() {
      return connections.size
    },
    /** Closes (4001) every connection that identified with the token `jti`. */
    closeToken(jti: string): void {
      for (const conn of [...connections]) {
        if (conn.credential?.jti !== jti) continue
        conn.send({ type: 'error', error: ERROR.UNAUTHORIZED })
        drop(conn, CLOSE.UNAUTHORIZED, 'token revoked')
      }
    },
    /** True when a new socket would be over the connection limit. */
    isFull(): boolean {
      return connections.size >= opts.maxConnections
    },
    close(): void {
      clearInterval(heartbeat)
      for (const conn of [...connections]) drop(conn, CLOSE.GOING_AWAY, 'hub shutting down')
    },
  }
}

export type Connections = ReturnType<typeof createConnections>
