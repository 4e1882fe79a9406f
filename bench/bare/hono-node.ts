/** The bare Hono baseline on Node: @hono/node-server with `ws`, wired as hub/node/serve.ts wires the hub. */
import { serve, upgradeWebSocket } from '@hono/node-server'
import { WebSocketServer } from 'ws'
import type { AddressInfo } from 'node:net'
import { createBareApp } from './hono-app.ts'

const wss = new WebSocketServer({ noServer: true, maxPayload: 256 * 1024 })
const server = serve({
  fetch: createBareApp(upgradeWebSocket).fetch, port: Number(process.env.PORT ?? 0), hostname: '127.0.0.1',
  websocket: { server: wss },
})
server.once('listening', () => {
  const { port } = server.address() as AddressInfo
  console.log(JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}` }))
})
process.once('SIGTERM', () => process.exit(0))
