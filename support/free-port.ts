/** TCP ports on 127.0.0.1 free right now, for servers that cannot listen on port 0 and report it. */
import { createServer, type Server } from 'node:net'

async function listen(port: number): Promise<Server | null> {
  const server = createServer()
  return new Promise((resolve) => {
    server.once('error', () => resolve(null))
    server.listen(port, '127.0.0.1', () => resolve(server))
  })
}

async function close(server: Server): Promise<void> {
  await new Promise((resolve) => server.close(resolve))
}

export async function freePort(): Promise<number> {
  const server = (await listen(0))!
  const { port } = server.address() as { port: number }
  await close(server)
  return port
}

/**
 * A port whose next one is free too, both held at once while checked (npm run start:cluster
 * listens on PORT and PORT+1): a lone free port's neighbour is often some other test's.
 */
export async function freePortPair(): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const first = await listen(0)
    if (!first) continue
    const { port } = first.address() as { port: number }
    const second = port < 65535 ? await listen(port + 1) : null
    await close(first)
    if (second) {
      await close(second)
      return port
    }
  }
  throw new Error('no two consecutive free ports on 127.0.0.1 in 50 tries')
}
