/**
 * WebSocket upgrades on Node, routed by the Hono app, through `ws`. Our own rather than
 * @hono/node-server's `upgradeWebSocket`, because that one keeps each upgrade's whole Hono
 * Context (Request, IncomingMessage, URLs, headers: about 6 KB) reachable from the open socket
 * for its whole life; docs/benchmarks.md has the profile. Here an open socket holds only the
 * `ws` socket, a small WSContext and the route's events.
 *
 * The flow: the server's `upgrade` event builds a Request (a light one, upgrade-request.ts) and
 * runs the app. The route's `upgradeWebSocket` middleware only leaves its events in the `env`
 * of that request; once the app has answered, the upgrade listener takes them and completes the
 * handshake, or writes the app's refusal (status, headers and body) on the raw socket.
 */
import type { IncomingMessage, Server } from 'node:http'
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { WSContext, defineWebSocketHelper, type WSContextInit, type WSEvents } from 'hono/ws'
import WebSocket, { WebSocketServer } from 'ws'
import { upgradeRequest } from './upgrade-request.ts'
import { WRITES_SECURITY_HEADERS } from '../security/headers.ts'

/**
 * What the upgrade listener hands the app as its `env`: `incoming` as @hono/node-server does,
 * and the slot where the route's `upgradeWebSocket` leaves its events for the listener.
 * `outgoing` tells the app's hardening that the security headers are written here, with a
 * refusal's head (as SecurityHeadersResponse does for answers): an upgrade that succeeds has
 * no answer of its own to put them on, and setting them on it built a web Headers for nothing
 * (about 3 % of the hub's time in an identify storm, profiled).
 */
interface UpgradeBindings {
  incoming: IncomingMessage
  outgoing: typeof WRITES_OWN_SECURITY_HEADERS
  [ACCEPTED]: WSEvents<WebSocket> | null
}
const ACCEPTED = Symbol('accepted upgrade')
const WRITES_OWN_SECURITY_HEADERS = Object.freeze({ [WRITES_SECURITY_HEADERS]: true as const })

/** Node 20 has no global CloseEvent: an Event with its fields, as the events expect. */
type CloseEventLike = Parameters<NonNullable<WSEvents['onClose']>>[0]

type Fetch = (request: Request, env: UpgradeBindings) => Response | Promise<Response>

export interface NodeWebSocketOptions {
  /** Larger frames close the socket with 1009 (ws checks it before we see the frame). */
  maxPayload: number
  /** An event handler threw: the hub logs it; the socket and the process go on. */
  onError: (err: unknown) => void
}

export function createNodeWebSocket(opts: NodeWebSocketOptions) {
  /**
   * The sockets of this server: a `ws` WebSocket that carries the route's events and its
   * WSContext in two fields of its own, so an open socket adds one small object (the WSContext)
   * to what `ws` allocates anyway, and no closures: the listeners below are shared and find
   * their socket as `this`. Declared here so that `reportError` reaches this server's onError.
   */
  class HubSocket extends WebSocket {
    events: WSEvents<WebSocket> | null = null
    ctx: WSContext<WebSocket> | null = null
    /**
     * EventEmitter's listener table, made with the three events `bind` listens to, as Node's
     * streams make theirs: EventEmitter starts one as `{ __proto__: null }`, which V8 keeps as a
     * hash table (160 bytes more per socket, heap snapshot of 2 000 agents). Replaced before any
     * listener is added (ws adds none to a server-side socket in its constructor).
     */
    _events = { message: undefined, close: undefined, error: undefined }
    /** What WSContext keeps as `raw`: the socket itself, which is also what it sends through. */
    get raw(): WebSocket {
      return this
    }
    reportError(err: unknown): void {
      opts.onError(err)
    }
    untrack(): void {
      open.delete(this)
    }
  }
  // Our own registry of open sockets (one Set entry each) instead of ws's clientTracking, which
  // adds a `close` listener closure per socket.
  const open = new Set<HubSocket>()
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxPayload, clientTracking: false, WebSocket: HubSocket })

  const upgradeWebSocket = defineWebSocketHelper<WebSocket>(async (c, events) => {
    const env = c.env as Partial<UpgradeBindings> | undefined
    // Not from the upgrade listener (a plain request that merely names the header): the route
    // answers it as any request that is no upgrade.
    if (!env || !(ACCEPTED in env)) return
    // From the headers Node's parser made: the request's web Headers are never built for an upgrade (upgrade-request.ts).
    if (env.incoming?.headers.upgrade?.toLowerCase() !== 'websocket') return
    env[ACCEPTED] = events
    return new Response(null)
  })

  /** Runs every upgrade request on `server` through `fetch` (the Hono app). */
  function attach(server: Server, fetch: Fetch): void {
    server.on('upgrade', (incoming: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', ignoreError)
      void upgrade(fetch, incoming, socket, head).catch((err) => {
        opts.onError(err)
        refuse(socket, 500, new Headers(), Buffer.alloc(0))
      })
    })
  }

  async function upgrade(fetch: Fetch, incoming: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const request = upgradeRequest(incoming)
    if (!request) return refuse(socket, 400, new Headers(), Buffer.alloc(0))
    const env: UpgradeBindings = { incoming, outgoing: WRITES_OWN_SECURITY_HEADERS, [ACCEPTED]: null }
    const res = await fetch(request, env)
    const events = env[ACCEPTED]
    if (socket.destroyed) return
    if (!events) return refuse(socket, res.status, res.headers, Buffer.from(await res.arrayBuffer()))
    wss.handleUpgrade(incoming, socket, head, (ws) => {
      socket.off('error', ignoreError)
      bind(ws as HubSocket, events)
    })
  }

  /** Hands a socket's life to the route's events. */
  function bind(ws: HubSocket, events: WSEvents<WebSocket>): void {
    ws.events = events
    // WSContext calls send, close and readyState on its init object: the socket has all three.
    ws.ctx = new WSContext<WebSocket>(ws as unknown as WSContextInit<WebSocket>)
    open.add(ws)
    try {
      events.onOpen?.(new Event('open'), ws.ctx)
    } catch (err) {
      opts.onError(err)
    }
    ws.on('message', onSocketMessage)
    ws.on('close', onSocketClose)
    ws.on('error', onSocketError)
  }

  return {
    upgradeWebSocket,
    attach,
    /** Every open socket, e.g. to terminate them all on shutdown. */
    clients: open as ReadonlySet<WebSocket>,
  }
}

/**
 * Changes the largest frame `ws` reads on one socket. `ws` takes maxPayload per server, and its
 * receiver checks `_maxPayload` (a private field, ws 8) as soon as a frame's length is read:
 * so the 16 KiB limit before identify holds before the frame is buffered, as 256 KiB does after.
 */
export function setReceiverMaxPayload(ws: WebSocket, bytes: number): void {
  const receiver = (ws as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver
  if (receiver && typeof receiver._maxPayload === 'number') receiver._maxPayload = bytes
}

/** A socket of createNodeWebSocket, as the shared listeners see it. */
interface BoundSocket extends WebSocket {
  events: WSEvents<WebSocket>
  ctx: WSContext<WebSocket>
  reportError(err: unknown): void
  untrack(): void
}

function onSocketMessage(this: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
  const ws = this as BoundSocket
  try {
    ws.events.onMessage?.(new MessageEvent('message', { data: isBinary ? toArrayBuffer(data) : data.toString() }), ws.ctx)
  } catch (err) {
    ws.reportError(err)
  }
}

function onSocketClose(this: WebSocket, code: number, reason: Buffer): void {
  const ws = this as BoundSocket
  ws.untrack()
  try {
    ws.events.onClose?.(Object.assign(new Event('close'), { code, reason: reason.toString(), wasClean: code !== 1006 }) as CloseEventLike, ws.ctx)
  } catch (err) {
    ws.reportError(err)
  }
}

function onSocketError(this: WebSocket, error: Error): void {
  const ws = this as BoundSocket
  try {
    ws.events.onError?.(Object.assign(new Event('error'), { message: error.message, error }), ws.ctx)
  } catch (err) {
    ws.reportError(err)
  }
}

function toArrayBuffer(data: WebSocket.RawData): ArrayBuffer {
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer
}

/**
 * Writes a whole HTTP response on an upgrade's raw socket and closes it, with the security
 * headers of every answer (hub/security/headers.ts): no-store unless the answer set its own
 * caching, and nosniff.
 */
function refuse(socket: Duplex, status: number, headers: Headers, body: Buffer): void {
  if (socket.destroyed) return
  const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`, 'Connection: close', `Content-Length: ${body.length}`]
  headers.forEach((value, key) => {
    if (key !== 'content-length' && key !== 'connection' && key !== 'x-content-type-options') head.push(`${key}: ${value}`)
  })
  if (!headers.has('cache-control')) head.push('cache-control: no-store')
  head.push('x-content-type-options: nosniff')
  socket.end(Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), body]), () => socket.destroy())
}

/** A socket that errors before or during the handshake is gone; the close does the cleanup. */
function ignoreError(): void {}
