/**
 * A loopback TCP proxy in front of the hub that can make the network misbehave the ways a
 * WebSocket cannot tell apart from a dead peer: `freeze` blackholes every connection (no byte,
 * no FIN, no RST gets through, in either direction), `cut` drops them (both ends see the TCP
 * connection end), `freezeToHub` swallows only what the current clients send (their frames and
 * their FIN), while new connections pass. Port 0; own sockets only.
 */
import { createServer, connect, type Socket } from 'node:net'

export interface ProxyPair {
  client: Socket
  upstream: Socket
  openedAt: number
  /** When the hub's side of this connection ended (its FIN or reset: the hub closed or destroyed it). */
  upstreamClosedAt: number | null
  toHub: boolean
  toClient: boolean
}

export interface Proxy {
  port: number
  /** ws://127.0.0.1:<port>/ws */
  wsUrl: string
  pairs: ProxyPair[]
  /** Blackholes current and new connections in both directions. */
  freeze(): void
  /** Swallows bytes (and the end) clients send on current connections; the hub's still pass; new connections pass. */
  freezeToHub(): void
  /** New connections pass again; frozen ones stay frozen until cut. */
  thaw(): void
  /** Destroys every connection, both sides. */
  cut(): void
  close(): Promise<void>
}

export async function startProxy(targetPort: number): Promise<Proxy> {
  const pairs: ProxyPair[] = []
  let mode: 'open' | 'frozen' = 'open'

  const server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ host: '127.0.0.1', port: targetPort, allowHalfOpen: true })
    const pair: ProxyPair = {
      client, upstream, openedAt: Date.now(), upstreamClosedAt: null,
      toHub: mode === 'open', toClient: mode === 'open',
    }
    pairs.push(pair)
    client.on('data', (chunk) => {
      if (pair.toHub) upstream.write(chunk)
    })
    upstream.on('data', (chunk) => {
      if (pair.toClient) client.write(chunk)
    })
    client.on('end', () => {
      if (pair.toHub) upstream.end()
    })
    upstream.on('end', () => {
      pair.upstreamClosedAt ??= Date.now()
      if (pair.toClient) client.end()
    })
    upstream.on('close', () => {
      pair.upstreamClosedAt ??= Date.now()
      if (pair.toClient) client.destroy()
    })
    client.on('close', () => {
      if (pair.toHub) upstream.destroy()
    })
    // A reset on either side is the test's doing or the peer's; the close event tells it.
    client.on('error', () => {})
    upstream.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  function cut(): void {
    for (const p of pairs) {
      p.client.destroy()
      p.upstream.destroy()
    }
  }
  const port = (server.address() as { port: number }).port

  return {
    port,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    pairs,
    freeze() {
      mode = 'frozen'
      for (const p of pairs) {
        p.toHub = false
        p.toClient = false
      }
    },
    freezeToHub() {
      for (const p of pairs) p.toHub = false
    },
    thaw() {
      mode = 'open'
    },
    cut,
    async close() {
      cut()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
