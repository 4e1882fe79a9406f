/**
 * The open sidecar sockets of this hub: the registry, its limits (identified sockets, sockets
 * still unidentified, each socket's frame budget and unsent bytes), the identify deadline and
 * the heartbeat that closes silent sockets. Runtime-neutral: it sees only Hono's WSContext.
 *
 * Unidentified sockets have a cap of their own (maxPending) and never count against
 * maxConnections, which counts identified agents only: a flood of clients without a token can
 * fill the pending slots, never an agent's. Hence at most maxConnections + maxPending sockets.
 * With the pending slots full, a new socket takes the slot of the one waiting longest (which is
 * closed), so sockets that send nothing cannot keep out a sidecar that identifies at once.
 */
import type { WSContext, WSEvents } from 'hono/ws'
import { CLOSE, ERROR, MAX_FRAME_BYTES, MAX_IDENTIFY_BYTES, type HubMessage } from '../../shared/protocol.ts'
import type { Logger } from '../../shared/log.ts'
import type { Clock } from '../../shared/time.ts'
import type { Peer } from './bus.ts'
import type { AgentRecord } from '../agents/fleet.ts'
import { FrameBudget } from './limits.ts'
import type { TokenClaims } from '../auth/auth.ts'

/**
 * What a Connection needs of its registry and of the hub: one object per hub, shared by all its
 * connections, so that a connection carries a reference to it instead of closures of its own.
 */
export interface ConnectionHost {
  /** A new socket: registered, or refused (closed 1013) over the pending limit, then false. */
  opened(conn: Connection): boolean
  frame(conn: Connection, data: unknown): void
  gone(conn: Connection): void
  error(conn: Connection, event: Event): void
  unsentBytes(ws: WSContext): number
  /** `conn` has more than MAX_UNSENT_BYTES unsent: it is dropped after the sender's step. */
  backlogged(conn: Connection, unsent: number): void
}

/**
 * One socket, from upgrade to close: its state, and the `upgradeWebSocket` events the runtime
 * adapters call on it. A class with its methods on the prototype, not an object literal of
 * closures, and every field a primitive or a shared object where it can be: ten thousand agents
 * each pay for fields only (docs/benchmarks.md, memory_per_agent). It holds the WSContext and
 * nothing of the upgrade request.
 */
export class Connection implements Peer, WSEvents {
  /** Set once the socket is open; null before, and for a socket refused at open. */
  ws: WSContext | null = null
  agent: AgentRecord | null = null
  identifying = false
  identifyTimer: ReturnType<typeof setTimeout> | null = null
  closed = false
  /** Over MAX_UNSENT_BYTES: nothing more is sent, and it is about to be dropped. */
  backlogged = false
  /**
   * The claims of the token this connection identified with (the verifier's own object, kept
   * whole because a revocation may name its jti, its agent or its issue time): revoking it, or
   * its expiry, closes the connection.
   */
  credential: TokenClaims | null = null
  lastFrameAt = 0
  budget: FrameBudget | null = null
  constructor(
    private readonly host: ConnectionHost,
    /** The peer's address as the runtime saw it (for logs), or null when it cannot tell. */
    readonly peerAddress: string | null,
  ) {}

  onOpen(_event: Event, ws: WSContext): void {
    this.ws = ws
    if (!this.host.opened(this)) this.closed = true
  }

  onMessage(event: MessageEvent): void {
    if (!this.closed) this.host.frame(this, event.data)
  }

  onClose(): void {
    if (this.ws) this.host.gone(this)
  }

  onError(event: Event): void {
    this.host.error(this, event)
  }

  send(message: HubMessage): void {
    if (this.closed || this.backlogged || !this.ws) return
    this.sendText(JSON.stringify(message))
  }

  /** A frame already serialised: the JSON of one HubMessage (e.g. `identified`, made without an object). */
  sendText(text: string): void {
    if (this.closed || this.backlogged || !this.ws) return
    this.ws.send(text)
    const unsent = this.host.unsentBytes(this.ws)
    if (unsent <= MAX_UNSENT_BYTES) return
    this.backlogged = true
    this.host.backlogged(this, unsent)
  }

  close(code: number, reason: string): void {
    try {
      this.ws?.close(code, reason)
    } catch {
      // Already closing: nothing more to do for a socket we are dropping.
    }
  }
}

/** A socket with more than this queued and not yet sent is closed: its peer is not reading. */
export const MAX_UNSENT_BYTES = 1024 * 1024

/**
 * A socket the hub closed whose peer has not answered the close within this is destroyed
 * (where the runtime can: `terminate`), so every socket the hub closes is gone within 10 s.
 */
export const CLOSE_GRACE_MS = 5000

export interface ConnectionOptions {
  log: Logger
  clock: Clock
  identifyTimeoutMs: number
  /** A connection silent for this long is closed as dead. */
  idleTimeoutMs: number
  /** Identified sockets beyond this are refused. */
  maxConnections: number
  /** Unidentified sockets beyond this are refused. */
  maxPending: number
  /** Bytes queued on a socket and not yet sent. */
  unsentBytes(ws: WSContext): number
  /** Each socket's frame budget, see FrameBudget. */
  maxFramesPerS: number
  /** Destroys a socket without a closing handshake, for a peer that stopped answering. */
  terminate?: (ws: WSContext) => void
  /**
   * The largest frame the runtime reads on this socket before refusing it (1009), so a frame
   * over the limit is refused before it is buffered: 16 KiB until identified, then 256 KiB.
   */
  setMaxPayload?: (ws: WSContext, bytes: number) => void
  /** A connection is gone (closed by either side); called once per connection. */
  onGone(conn: Connection): void
  /** A frame arrived on an open connection. */
  onFrame(conn: Connection, data: unknown): void
}

export function createConnections(opts: ConnectionOptions) {
  const { log, clock } = opts
  const connections = new Set<Connection>()
  /** The unidentified among `connections`. */
  const pending = new Set<Connection>()

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
        terminate(conn)
      }
    }
  }, Math.max(1000, Math.floor(opts.idleTimeoutMs / 3)))

  /**
   * Closes and forgets a connection at once, without waiting for the peer's close frame; a
   * peer that never answers it is cut off CLOSE_GRACE_MS later.
   */
  function drop(conn: Connection, code: number, reason: string): void {
    conn.close(code, reason)
    if (!conn.closed && opts.terminate && conn.ws) unref(setTimeout(terminate, CLOSE_GRACE_MS, conn))
    forget(conn)
  }

  function terminate(conn: Connection): void {
    if (!opts.terminate || !conn.ws) return
    try {
      opts.terminate(conn.ws)
    } catch {
      // Already gone: nothing left to destroy.
    }
  }

  function forget(conn: Connection): void {
    if (conn.closed) return
    conn.closed = true
    connections.delete(conn)
    pending.delete(conn)
    if (conn.identifyTimer) clearTimeout(conn.identifyTimer)
    opts.onGone(conn)
  }

  const host: ConnectionHost = {
    opened: open,
    frame: opts.onFrame,
    gone: forget,
    error(conn, event) {
      log.warn('socket error', { agent_id: conn.agent?.agent_id ?? null, error: String((event as { message?: unknown }).message ?? 'error') })
    },
    unsentBytes: opts.unsentBytes,
    backlogged(conn, unsent) {
      log.warn('closing a socket that does not read what it is sent', { agent_id: conn.agent?.agent_id ?? null, unsent_bytes: unsent })
      // Dropped after the sender's step, not inside it: a send sits deep in other changes.
      queueMicrotask(() => {
        drop(conn, CLOSE.UNSENT_BACKLOG, 'unsent backlog')
        terminate(conn)
      })
    },
  }

  function identifyExpired(conn: Connection): void {
    conn.identifyTimer = null
    if (!conn.agent) drop(conn, CLOSE.IDENTIFY_TIMEOUT, 'identify timeout')
  }

  /** A new socket: registered as pending, or refused (closed 1013) over the limit: false. */
  function open(conn: Connection): boolean {
    if (pending.size >= opts.maxPending && !evictOldestPending()) {
      // Every pending socket is checking its token: none is idle enough to give way.
      log.warn('refusing a socket over the pending limit', { max_pending: opts.maxPending })
      conn.close(CLOSE.TRY_AGAIN_LATER, 'too many connections')
      return false
    }
    const now = clock.now()
    conn.lastFrameAt = now
    conn.budget = new FrameBudget(opts.maxFramesPerS, now)
    // One shared handler with the connection as its argument: no closure per socket.
    conn.identifyTimer = setTimeout(identifyExpired, opts.identifyTimeoutMs, conn)
    if (conn.ws) opts.setMaxPayload?.(conn.ws, MAX_IDENTIFY_BYTES)
    connections.add(conn)
    pending.add(conn)
    return true
  }

  /**
   * Closes (1013, try again later) the unidentified socket that has waited longest and is not
   * checking a token, to make room; false if every one is. `pending` keeps the order they came in.
   */
  function evictOldestPending(): boolean {
    for (const conn of pending) {
      if (conn.identifying) continue
      evicted++
      drop(conn, CLOSE.TRY_AGAIN_LATER, 'too many pending sockets')
      return true
    }
    return false
  }
  /** Sockets evicted so far; logged at most once a minute, with the count, not once each. */
  let evicted = 0
  let evictedLogged = 0
  const evictionLog = setInterval(() => {
    if (evicted === evictedLogged) return
    log.warn('evicted unidentified sockets to make room', { evicted: evicted - evictedLogged, max_pending: opts.maxPending })
    evictedLogged = evicted
  }, 60_000)

  /** Closes (4001) every connection whose token `revoked` now refuses. */
  function closeRevoked(revoked: (claims: TokenClaims) => boolean): void {
    for (const conn of [...connections]) {
      if (!conn.credential || !revoked(conn.credential)) continue
      conn.send({ type: 'error', error: ERROR.UNAUTHORIZED })
      drop(conn, CLOSE.UNAUTHORIZED, 'token revoked')
    }
  }

  /**
   * Whether a verified identify may make `conn` an agent's: always when it replaces that
   * agent's live connection, else while fewer than maxConnections are identified.
   */
  function admit(conn: Connection, replacing: boolean): boolean {
    if (!replacing && connections.size - pending.size >= opts.maxConnections) return false
    pending.delete(conn)
    if (conn.ws) opts.setMaxPayload?.(conn.ws, MAX_FRAME_BYTES)
    return true
  }

  return {
    /** The events for one new socket, to hand to `upgradeWebSocket`. */
    connection(peerAddress: string | null): Connection {
      return new Connection(host, peerAddress)
    },
    drop,
    forget,
    admit,
    get size() {
      return connections.size
    },
    /**
     * Why a new socket would be refused now, or null. A full pending set is no reason: the new
     * socket takes the oldest one's slot when it opens.
     */
    /**
     * Why an upgrade is refused now (503), or null. Past AGENTCOM_MAX_PENDING the upgrade is
     * refused `too_many_pending` and the oldest silent socket gives way, so the client's next
     * attempt gets in: sockets that send nothing never keep an agent out for long.
     */
    refusal(): typeof ERROR.TOO_MANY_CONNECTIONS | typeof ERROR.TOO_MANY_PENDING | null {
      if (connections.size - pending.size >= opts.maxConnections) return ERROR.TOO_MANY_CONNECTIONS
      if (pending.size >= opts.maxPending) {
        evictOldestPending()
        return ERROR.TOO_MANY_PENDING
      }
      return null
    },
    /** Closes (4001) every connection that identified with the token `jti`. */
    closeToken(jti: string): void {
      closeRevoked((claims) => claims.jti === jti)
    },
    closeRevoked,
    close(): void {
      clearInterval(heartbeat)
      clearInterval(evictionLog)
      for (const conn of [...connections]) drop(conn, CLOSE.GOING_AWAY, 'hub shutting down')
    },
  }
}

export type Connections = ReturnType<typeof createConnections>

/** Lets the process exit with the timer pending (Node's timers have unref; Deno's are numbers). */
function unref(timer: ReturnType<typeof setTimeout>): void {
  ;(timer as { unref?: () => void }).unref?.()
}
