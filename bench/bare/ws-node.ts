/**
 * The baseline for the hub's connection figures on Node: a bare `ws` server that answers each
 * connection's first frame and otherwise only holds the connection.
 */
import { WebSocketServer } from 'ws'
import type { AddressInfo } from 'node:net'

const wss = new WebSocketServer({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1', maxPayload: 256 * 1024 })
wss.on('connection', (ws) => {
  ws.once('message', (data) => {
    const { agent_id } = JSON.parse(data.toString()) as { agent_id: unknown }
    ws.send(JSON.stringify({ type: 'identified', agent_id }))
  })
})
wss.once('listening', () => {
  const { port } = wss.address() as AddressInfo
  console.log(JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}` }))
})
process.once('SIGTERM', () => process.exit(0))
