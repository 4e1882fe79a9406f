/**
 * WebSocket upgrades on Node, routed by the Hono app, through `ws`. Our own rather than
 * @hono/node-server's `upgradeWebSocket`, because that one keeps each upgrade's whole Hono
 * Context (Request, IncomingMessage, URLs, headers: about 6 KB) reachable from the open socket
 * for its whole life; docs/benchmarks.md has the profile. Here an open socket holds only the
 * `ws` socket, a small WSContext and the route's events.
 *
 * The flow: the server's `upgrade` event builds a Request and runs the app. The route's
 * `upgradeWebSocket` middleware only files the events for that request; once the app has
 * answered, the upgrade listener takes them out again and completes the handshake, or writes the
 * app's refusal (status, headers and body) on the raw socket.
 */
import type { IncomingMessage, Server } from 'node:http'
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { WSContext, defineWebSocketHelper, type WSEvents } from 'hono/ws'
import WebSocket, { WebSocketServer } from 'ws'

/** What the upgrade listener hands the app as its `env`, as @hono/node-server does. */
interface UpgradeBindings {
  incoming: IncomingMessage
  outgoing: undefined
}

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
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxPayload })
  /** Events the route accepted, until the upgrade listener takes them: never longer than one fetch. */
  const accepted = new Map<IncomingMessage, WSEvents<WebSocket>>()

  const upgradeWebSocket = defineWebSocketHelper<WebSocket>(async (c, events) => {
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') return
    const env = c.env as Partial<UpgradeBindings> | undefined
    // Not from the upgrade listener (a plain request that merely names the header): the route
    // answers it as any request that is no upgrade.
    if (!env?.incoming || !('outgoing' in env) || env.outgoing !== undefined) return
    accepted.set(env.incoming, events)
    return new Response(null)
  })

  /** Runs every upgrade request on `server` through `fetch` (the Hono app). */
  function attach(server: Server, fetch: Fetch): void {
    server.on('upgrade', (incoming: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', ignoreError)
      void upgrade(fetch, incoming, socket, head).catch((err) => {
        accepted.delete(incoming)
        opts.onError(err)
        refuse(socket, 500, new Headers(), Buffer.alloc(0))
      })
    })
  }

  async function upgrade(fetch: Fetch, incoming: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const request = toRequest(incoming)
    if (!request) return refuse(socket, 400, new Headers(), Buffer.alloc(0))
    const res = await fetch(request, { incoming, outgoing: undefined })
    const events = accepted.get(incoming)
    accepted.delete(incoming)
    if (socket.destroyed) return
    if (!events) return refuse(socket, res.status, res.headers, Buffer.from(await res.arrayBuffer()))
    wss.handleUpgrade(incoming, socket, head, (ws) => {
      socket.off('error', ignoreError)
      bind(ws, events, opts.onError)
    })
  }

  return {
    upgradeWebSocket,
    attach,
    /** Every open socket, e.g. to terminate them all on shutdown. */
    clients: wss.clients,
  }
}

/**
 * What WSContext runs on, and what the socket's listeners need, in one object kept on the
 * socket. A class: an object literal of closures with a getter costs a socket several hundred
 * bytes more (V8 keeps it as a dictionary).
 */
class Binding {
  readonly ctx: WSContext<WebSocket>
  constructor(readonly raw: WebSocket, readonly events: WSEvents<WebSocket>, readonly onError: (err: unknown) => void) {
    this.ctx = new WSContext<WebSocket>(this)
  }
  send(data: string | ArrayBuffer | Uint8Array, options: { compress?: boolean }): void {
    this.raw.send(data, { compress: options.compress })
  }
  close(code?: number, reason?: string): void {
    this.raw.close(code, reason)
  }
  get readyState(): 0 | 1 | 2 | 3 {
    return this.raw.readyState
  }
}

const BINDING = Symbol('agentcom.binding')
type BoundSocket = WebSocket & { [BINDING]: Binding }

/**
 * Hands a socket's life to the route's events. The listeners are shared functions that find
 * their binding on the socket (`this`), so a socket costs no closures of its own.
 */
function bind(ws: WebSocket, events: WSEvents<WebSocket>, onError: (err: unknown) => void): void {
  const binding = new Binding(ws, events, onError)
  ;(ws as BoundSocket)[BINDING] = binding
  try {
    events.onOpen?.(new Event('open'), binding.ctx)
  } catch (err) {
    onError(err)
  }
  ws.on('message', onSocketMessage)
  ws.on('close', onSocketClose)
  ws.on('error', onSocketError)
}

function onSocketMessage(this: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
  const { events, ctx, onError } = (this as BoundSocket)[BINDING]
  try {
    events.onMessage?.(new MessageEvent('message', { data: isBinary ? toArrayBuffer(data) : data.toString() }), ctx)
  } catch (err) {
    onError(err)
  }
}

function onSocketClose(this: WebSocket, code: number, reason: Buffer): void {
  const { events, ctx, onError } = (this as BoundSocket)[BINDING]
  try {
    events.onClose?.(Object.assign(new Event('close'), { code, reason: reason.toString(), wasClean: code !== 1006 }) as CloseEventLike, ctx)
  } catch (err) {
    onError(err)
  }
}

function onSocketError(this: WebSocket, error: Error): void {
  const { events, ctx, onError } = (this as BoundSocket)[BINDING]
  try {
    events.onError?.(Object.assign(new Event('error'), { message: error.message, error }), ctx)
  } catch (err) {
    onError(err)
  }
}

function toArrayBuffer(data: WebSocket.RawData): ArrayBuffer {
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer
}

/** The upgrade request as a Web Request, for the app's routing and middleware; null when malformed. */
function toRequest(incoming: IncomingMessage): Request | null {
  try {
    const headers = new Headers()
    for (const [key, value] of Object.entries(incoming.headers)) {
      if (value !== undefined) headers.append(key, Array.isArray(value) ? value.join(', ') : value)
    }
    const target = incoming.url ?? '/'
    // Origin-form ("/ws?x") joins the Host header as text, so "//other/ws" stays a path.
    const url = target.startsWith('/') ? `http://${incoming.headers.host ?? 'localhost'}${target}` : target
    return new Request(new URL(url), { headers })
  } catch {
    // A host or target that is no URL, or a header value Headers refuses.
    return null
  }
}

/** Writes a whole HTTP response on an upgrade's raw socket and closes it. */
function refuse(socket: Duplex, status: number, headers: Headers, body: Buffer): void {
  if (socket.destroyed) return
  const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`, 'Connection: close', `Content-Length: ${body.length}`]
  headers.forEach((value, key) => {
    if (key !== 'content-length' && key !== 'connection') head.push(`${key}: ${value}`)
  })
  socket.end(Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), body]), () => socket.destroy())
}

/** A socket that errors before or during the handshake is gone; the close does the cleanup. */
function ignoreError(): void {}
