/**
 * Serving the hub on Node: @hono/node-server with `ws` for the upgrades.
 * Used by hub/node.ts (the entry), tests and benchmarks.
 */
import { serve, upgradeWebSocket } from '@hono/node-server'
import { WebSocketServer } from 'ws'
import type { AddressInfo } from 'node:net'
import { createHub, type HubOptions } from './app.ts'
import { MAX_FRAME_BYTES } from '../shared/protocol.ts'

export type NodeHubOptions = Omit<HubOptions, 'upgradeWebSocket'> & { port: number; host: string }

/** Starts a hub on Node; resolves once it listens, with the real port (port 0 picks one). */
export async function startNodeHub(options: NodeHubOptions) {
  const hub = createHub({ ...options, upgradeWebSocket })
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES })
  const server = serve({ fetch: hub.app.fetch, port: options.port, hostname: options.host, websocket: { server: wss } })
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
      for (const ws of wss.clients) ws.terminate()
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      if ('closeAllConnections' in server) server.closeAllConnections()
      await closed
    },
  }
}
