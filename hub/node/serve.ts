/**
 * Serving the hub on Node: @hono/node-server, with our own upgrade helper over `ws`
 * (hub/node/websocket.ts) so that an open socket keeps nothing of its upgrade request.
 * Used by hub/node.ts (the entry), tests and benchmarks.
 */
import { serve } from '@hono/node-server'
import { getConnInfo } from '@hono/node-server/conninfo'
import type { Context } from 'hono'
import type { Server } from 'node:http'
import type WebSocket from 'ws'
import type { AddressInfo } from 'node:net'
import { createHub, type HubOptions } from '../app.ts'
import { createNodeWebSocket } from './websocket.ts'
import { MAX_FRAME_BYTES } from '../../shared/protocol.ts'
import { createLogger } from '../../shared/log.ts'

export type NodeHubOptions = Omit<HubOptions, 'upgradeWebSocket'> & { port: number; host: string }

/** Starts a hub on Node; resolves once it listens, with the real port (port 0 picks one). */
export async function startNodeHub(options: NodeHubOptions) {
  const log = options.log ?? createLogger('hub')
  const sockets = createNodeWebSocket({
    maxPayload: MAX_FRAME_BYTES,
    onError: (err) => log.error('websocket handler failed', { error: String(err) }),
  })
  const hub = createHub({
    remoteAddress: nodeRemoteAddress, ...options,
    upgradeWebSocket: sockets.upgradeWebSocket, terminateSocket: (ws) => (ws.raw as WebSocket).terminate(),
  })
  const server = serve({ fetch: hub.app.fetch, port: options.port, hostname: options.host })
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

/** `address:port` of the socket a request (or an upgrade) came in on. */
export function nodeRemoteAddress(c: Context): string | null {
  const { address, port } = getConnInfo(c).remote
  return address ? `${address}:${port}` : null
}
