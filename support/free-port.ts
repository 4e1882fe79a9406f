/**
 * TCP ports on 127.0.0.1 free right now, for servers that cannot listen on port 0 and report it.
 *
 * They are drawn below the kernel's ephemeral range (Linux: 32768-60999; IANA and other systems:
 * 49152-65535). A port from that range, free when checked, can be taken by any outgoing
 * connection of a concurrent test before our server binds it; below the range only an explicit
 * bind can take it.
 */
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'

const LOWEST = 16384
const TRIES = 50

/** The lowest port of the kernel's ephemeral range, read once. */
const EPHEMERAL_LOW = ((): number => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
  } catch {
    return 49152
  }
})()

/** Ports to try: random ones below the ephemeral range, or 0 (the kernel's pick) if it leaves no room. */
function candidate(): number {
  if (!(EPHEMERAL_LOW - 1 > LOWEST + 1000)) return 0
  return LOWEST + Math.floor(Math.random() * (EPHEMERAL_LOW - 1 - LOWEST))
}

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

async function freePorts(count: 1 | 2): Promise<number> {
  for (let tries = 0; tries < TRIES; tries++) {
    const first = await listen(candidate())
    if (!first) continue
    const { port } = first.address() as { port: number }
    const second = count === 2 && port < 65535 ? await listen(port + 1) : null
    await close(first)
    if (second) await close(second)
    if (count === 1 || second) return port
  }
  throw new Error(`no ${count === 2 ? 'two consecutive free ports' : 'free port'} on 127.0.0.1 in ${TRIES} tries`)
}

export async function freePort(): Promise<number> {
  return freePorts(1)
}

/**
 * A port whose next one is free too, both held at once while checked (npm run start:cluster
 * listens on PORT and PORT+1): a lone free port's neighbour is often some other test's.
 */
export async function freePortPair(): Promise<number> {
  return freePorts(2)
}
