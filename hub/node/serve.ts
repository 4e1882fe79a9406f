/**
 * Serving the hub on Node: @hono/node-server, with our own upgrade helper over `ws`
 * (hub/node/websocket.ts) so that an open socket keeps nothing of its upgrade request.
 * Used by hub/node.ts (the entry), tests and benchmarks.
 */
import { serve, type Http2Bindings, type HttpBindings } from '@hono/node-server'
import { getConnInfo } from '@hono/node-server/conninfo'
import type { Context } from 'hono'
import type { IncomingMessage, Server } from 'node:http'
import type WebSocket from 'ws'
import type { AddressInfo } from 'node:net'
import { createHub, type HubOptions } from '../app.ts'
import { createNodeWebSocket, setReceiverMaxPayload } from './websocket.ts'
import { nodeTokenMac } from './platform.ts'
import { SecurityHeadersResponse } from './security-headers-response.ts'
import { nodeProcessMetrics } from './metrics.ts'
import { nodeAuthorizationHeader } from './authorization-header.ts'
import { nodeUpgradeHeader } from './upgrade-header.ts'
import { MAX_FRAME_BYTES } from '../../shared/protocol.ts'
import { createLogger } from '../../shared/log.ts'

export type NodeHubOptions = Omit<HubOptions, 'upgradeWebSocket'> & { port: number; host: string }

/**
 * A client must send a request's headers within this, and the whole request within
 * HTTP_REQUEST_TIMEOUT_MS, else Node answers 408 and closes (checked every second). A 1 MiB
 * body within 30 s is 35 KB/s. Long answers (the events stream) are not limited by either.
 */
export const HTTP_HEADERS_TIMEOUT_MS = 10_000
export const HTTP_REQUEST_TIMEOUT_MS = 30_000

/** Starts a hub on Node; resolves once it listens, with the real port (port 0 picks one). */
export async function startNodeHub(options: NodeHubOptions) {
  const log = options.log ?? createLogger('hub')
  const sockets = createNodeWebSocket({
    maxPayload: MAX_FRAME_BYTES,
    onError: (err) => log.error('websocket handler failed', { error: String(err) }),
  })
  const hub = createHub({
    remoteAddress: nodeRemoteAddress, upgradeHeader: nodeUpgradeHeader, authorizationHeader: nodeAuthorizationHeader, tokenMac: nodeTokenMac(options.secret), processMetrics: nodeProcessMetrics(), ...options,
    upgradeWebSocket: sockets.upgradeWebSocket, terminateSocket: (ws) => (ws.raw as WebSocket).terminate(),
    setMaxPayload: (ws, bytes) => setReceiverMaxPayload(ws.raw as WebSocket, bytes),
  })
  // Upgrades never come here: the helper runs them through the app and answers them itself.
  const fetch = (request: Request, env: HttpBindings | Http2Bindings) => {
    // A request that came without a body (most are GETs) cannot leave one unread: its answer
    // goes out as the app made it, without a step of its own.
    if (!env.incoming || !mayHaveBody(env.incoming as IncomingMessage)) return hub.app.fetch(request, env)
    return answerReadingBody(hub.app.fetch(request, env), env.incoming as IncomingMessage)
  }
  const server = serve({
    fetch, port: options.port, hostname: options.host,
    serverOptions: {
      ServerResponse: SecurityHeadersResponse,
      headersTimeout: HTTP_HEADERS_TIMEOUT_MS, requestTimeout: HTTP_REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1000,
    },
  })
  sockets.attach(server as Server, hub.app.fetch)
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })
  const { port } = server.address() as AddressInfo
  return {
    hub,
    port,
    url: `http://${options.host}:${port}`,
    async close(): Promise<void> {
      hub.close()
      for (const ws of sockets.clients) ws.terminate()
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      if ('closeAllConnections' in server) server.closeAllConnections()
      await closed
    },
  }
}

/** The app's answer to a request that declared a body, with `Connection: close` if it left the body unread. */
async function answerReadingBody(answer: Response | Promise<Response>, incoming: IncomingMessage): Promise<Response> {
  const res = await answer
  return hasUnreadBody(incoming) ? await withConnectionClose(res) : res
}

/**
 * Whether the request declared a body (a length other than 0, or a transfer encoding). Reads
 * `headers`, which Node builds on first use; the app reads them anyway (the access gate).
 */
function mayHaveBody(incoming: IncomingMessage): boolean {
  const length = incoming.headers['content-length']
  return (length !== undefined && length !== '0') || incoming.headers['transfer-encoding'] !== undefined
}

/**
 * Whether the request came with a body that is still on its way, the answer made without
 * reading it. A request received whole (`complete`: no body, or one Node holds and discards
 * after the answer) needs nothing, and is told so without touching `headers`, which Node builds
 * on first use: most admin requests are GETs, and building them was about 1 % of the hub's
 * CPU under admin_api_rps (profiled).
 */
function hasUnreadBody(incoming: IncomingMessage): boolean {
  if (incoming.readableEnded || incoming.complete) return false
  const length = incoming.headers['content-length']
  return (length !== undefined && length !== '0') || incoming.headers['transfer-encoding'] !== undefined
}

/**
 * An answer given before the body was read (413, 401, ...): the rest of the body is still on
 * its way, and Node would cut the connection under the client's next request. `Connection:
 * close` tells the client to send that one on a new connection.
 */
async function withConnectionClose(res: Response): Promise<Response> {
  const headers = new Headers(res.headers)
  headers.set('connection', 'close')
  // Read whole (these answers are small) so the length is known and sent.
  return new Response(new Uint8Array(await res.arrayBuffer()), { status: res.status, statusText: res.statusText, headers })
}

/**
 * `address:port` of the socket a request (or an upgrade) came in on. Joined rather than a
 * template literal: V8 keeps `${a}:${b}` as a tree of string pieces, and a connection keeps this
 * string for its whole life.
 */
export function nodeRemoteAddress(c: Context): string | null {
  // Read off Node's socket, as getConnInfo does, without the object (and address family) it builds per call.
  const socket = (c.env as Partial<HttpBindings> | undefined)?.incoming?.socket
  if (!socket) {
    const { address, port } = getConnInfo(c).remote
    return address ? [address, port].join(':') : null
  }
  const address = socket.remoteAddress
  return address ? [address, socket.remotePort].join(':') : null
}
