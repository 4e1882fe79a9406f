/**
 * The baseline for the hub's connection figures on Deno: Deno.serve with Deno.upgradeWebSocket,
 * answering each connection's first frame and otherwise only holding the connection.
 */
import { deno } from './deno-api.ts'

deno.serve({
  port: Number(deno.env.get('PORT') ?? 0),
  hostname: '127.0.0.1',
  onListen: ({ port }) => console.log(JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}` })),
}, (request) => {
  if (request.headers.get('upgrade') !== 'websocket') return new Response('not found', { status: 404 })
  const { socket, response } = deno.upgradeWebSocket(request)
  socket.onmessage = (event) => {
    socket.onmessage = null
    const { agent_id } = JSON.parse(String(event.data)) as { agent_id: unknown }
    socket.send(JSON.stringify({ type: 'identified', agent_id }))
  }
  return response
})
deno.addSignalListener('SIGTERM', () => deno.exit(0))
