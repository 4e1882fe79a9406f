/**
 * The start commands' first check: which of the ports their hubs will listen on another process
 * holds already. Without it, `npm start` would bring up pm2 and the demo fleet around a hub
 * that can only fail to bind, and could take another hub's `/health` for its own.
 */
import { createServer } from 'node:net'

async function inUse(host: string, port: number): Promise<boolean> {
  const server = createServer()
  return new Promise((resolve) => {
    server.once('error', () => resolve(true))
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(false)))
  })
}

/** The ports of `ports` that cannot be listened on at `host` now (port 0 is never in use). */
export async function portsInUse(host: string, ports: number[]): Promise<number[]> {
  const taken = await Promise.all(ports.map((port) => port !== 0 && inUse(host, port)))
  return ports.filter((_, i) => taken[i])
}

/** Exits (1) with a line on stderr naming the ports held, the way to pick others, and nothing started. */
export async function exitIfPortsInUse(host: string, ports: number[], hint: string): Promise<void> {
  const taken = await portsInUse(host, ports)
  if (taken.length === 0) return
  process.stderr.write(`agentcom: ${taken.length === 1 ? 'port' : 'ports'} ${taken.join(' and ')} on ${host} ${taken.length === 1 ? 'is' : 'are'} in use; ${hint}\n`)
  process.exit(1)
}
