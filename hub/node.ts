/**
 * The hub on Node: `npm run hub`. Wiring only; everything else is in app.ts.
 */
import { serve, upgradeWebSocket } from '@hono/node-server'
import { WebSocketServer } from 'ws'
import type { AddressInfo } from 'node:net'
import { pathToFileURL } from 'node:url'
import { createHub, type HubOptions } from './app.ts'
import { ensureSecret, resolveHubConfig } from './config.ts'
import { MAX_FRAME_BYTES } from '../shared/protocol.ts'
import { createLogger } from '../shared/log.ts'
import { nodeSecretFiles } from '../scripts/secret-files.ts'

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

async function main(): Promise<void> {
  const log = createLogger('hub')
  let config
  try {
    config = resolveHubConfig(process.env)
  } catch (err) {
    console.error(`agentcom hub: ${(err as Error).message}`)
    process.exit(78)
  }
  const secret = await ensureSecret(config, nodeSecretFiles)
  const running = await startNodeHub({ port: config.port, host: config.host, secret, restartTimeoutMs: config.restartTimeoutMs, log })
  log.info('hub listening', { url: running.url, runtime: `node ${process.version}` })
  const stop = (signal: string) => {
    log.info('hub stopping', { signal })
    void running.close().then(() => process.exit(0))
  }
  process.once('SIGINT', () => stop('SIGINT'))
  process.once('SIGTERM', () => stop('SIGTERM'))
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main()
