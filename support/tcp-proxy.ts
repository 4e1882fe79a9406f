/**
 * A TCP proxy in front of the test PostgreSQL server that a test can cut: every connection
 * through it is reset and new ones are refused until `restore()`. It stands for a network
 * split or a database that went away, without stopping the server other test files share.
 */
import { createServer, connect, type Socket } from 'node:net'

export interface TcpProxy {
  port: number
  /** Connections refused while cut. */
  readonly refused: number
  /** The same URL with the proxy's port. */
  url(databaseUrl: string): string
  cut(): void
  restore(): void
  close(): Promise<void>
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  let open = true
  let refused = 0
  const server = createServer((client) => {
    if (!open) {
      refused++
      return client.destroy()
    }
    const upstream = connect(targetPort, targetHost)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => {}) // A reset is what a cut is for; the peer sees it.
    }
    client.pipe(upstream).pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    port,
    get refused() {
      return refused
    },
    url(databaseUrl) {
      const u = new URL(databaseUrl)
      u.hostname = '127.0.0.1'
      u.port = String(port)
      return u.href
    },
    cut() {
      open = false
      for (const s of sockets) s.resetAndDestroy()
    },
    restore() {
      open = true
    },
    close() {
      for (const s of sockets) s.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
