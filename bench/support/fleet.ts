/** Servers and swarms that always stop, and a fleet of N agents connected to a server. */
import type { Runtime } from '../../support/hub-process.ts'
import { startBare, startHub, type ServerUnderTest } from './servers.ts'
import { startSwarm, type Swarm } from './swarm-client.ts'
import { onInterrupt } from './cleanup.ts'

/**
 * At most this many connections are opening at once. All N at once would overflow the listen
 * backlog (511 on Node) and the figure would time the kernel's 1 s and 3 s SYN retries, not the
 * server. 256 keeps every server under test busy without a single retry.
 */
export const CONNECT_WINDOW = 256

export type Side = 'hub' | 'bare-ws' | 'bare-hono'

export const starter = (side: Side, runtime: Runtime) => () => (side === 'hub' ? startHub(runtime) : startBare(side, runtime))

export async function withServer<T>(start: () => Promise<ServerUnderTest>, fn: (server: ServerUnderTest) => Promise<T>): Promise<T> {
  const server = await start()
  const release = onInterrupt(() => server.stop())
  try {
    return await fn(server)
  } finally {
    release()
    await server.stop()
  }
}

export async function withSwarm<T>(fn: (swarm: Swarm) => Promise<T>): Promise<T> {
  const swarm = startSwarm()
  const release = onInterrupt(() => swarm.stop())
  try {
    return await fn(swarm)
  } finally {
    release()
    await swarm.stop()
  }
}

/** Connects and identifies `count` agents; resolves with the ms until the last was identified. */
export async function connectFleet(swarm: Swarm, server: ServerUnderTest, count: number): Promise<number> {
  const r = await swarm.connect({
    wsUrl: server.wsUrl, count, idPrefix: 'bench-agent-', secret: server.secret, window: CONNECT_WINDOW, timeoutMs: 120_000,
  })
  if (r.failed > 0) throw new Error(`${r.failed} of ${count} agents were not identified by ${server.kind} on ${server.runtime}`)
  return r.elapsedMs
}

/** Human names of the baselines, per runtime. */
export const BASELINE = {
  'bare-ws': {
    node: 'bare `ws` server',
    deno: 'bare `Deno.upgradeWebSocket` server',
  },
  'bare-hono': {
    node: 'bare Hono route (@hono/node-server + ws)',
    deno: 'bare Hono route (Deno.serve + hono/deno)',
  },
} as const

/** Deno rows carry the runtime in their name, so that every name in latest.json is unique. */
export const figureName = (name: string, runtime: Runtime) => (runtime === 'node' ? name : `${name}_deno`)

export interface ConnectedFleet {
  server: ServerUnderTest
  swarm: Swarm
}

/**
 * The hub and the bare Hono baseline side by side, N agents connected to each, so that their
 * measurements can alternate and share whatever the machine is doing meanwhile.
 */
export async function withHubAndBareHono<T>(
  runtime: Runtime, agents: number,
  fn: (fleets: { hub: ConnectedFleet; bare: ConnectedFleet }) => Promise<T>,
): Promise<T> {
  return withServer(starter('hub', runtime), (hubServer) => withServer(starter('bare-hono', runtime), (bareServer) =>
    withSwarm((hubSwarm) => withSwarm(async (bareSwarm) => {
      await connectFleet(hubSwarm, hubServer, agents)
      await connectFleet(bareSwarm, bareServer, agents)
      return fn({ hub: { server: hubServer, swarm: hubSwarm }, bare: { server: bareServer, swarm: bareSwarm } })
    }))))
}
