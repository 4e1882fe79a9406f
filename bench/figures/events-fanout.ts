/**
 * events_fanout: command_latency_p99 (restart request → `restart_sidecar` on the agent's
 * socket, see command-latency.ts) with 20 clients reading `GET /api/admin/events`, against the
 * same hub and fleet with no client on the stream. Each restart is an `agent` event that goes
 * to every client. The two sides alternate in chunks on one hub with N agents connected; the
 * clients connect before each of their chunks (untimed) and leave after it.
 */
import { get as httpGet, type ClientRequest } from 'node:http'
import type { BenchSizes } from '../config.ts'
import type { Runtime } from '../../support/hub-process.ts'
import { connectFleet, figureName, starter, withServer, withSwarm } from '../support/fleet.ts'
import type { ServerUnderTest } from '../support/servers.ts'
import { makeResult, type Result } from '../support/report.ts'
import { percentile } from '../support/stats.ts'

const CLIENTS = 20
const CHUNKS = 20

export async function eventsFanout(sizes: BenchSizes, runtime: Runtime, log: (line: string) => void): Promise<Result[]> {
  if (2 * (sizes.commandWarmup + sizes.commandSamples) > sizes.agents) throw new Error('more restart probes than agents')
  return withServer(starter('hub', runtime), (server) => withSwarm(async (swarm) => {
    await connectFleet(swarm, server, sizes.agents)
    const samples = { with: [] as number[], without: [] as number[] }
    let offset = 0
    const probe = async (count: number) => {
      const latencies = await swarm.probe({
        httpUrl: server.url, pathTemplate: server.restartPath, headers: server.adminHeaders, offset, count, timeoutMs: 10_000,
      })
      offset += count
      return latencies
    }
    const withClients = async (count: number) => {
      const clients = await openClients(server, CLIENTS)
      try {
        const latencies = await probe(count)
        // The hub writes events in batches (every 100 ms): let the last one arrive before leaving.
        await clients.received(count * CLIENTS, 5000)
        return latencies
      } finally {
        clients.close()
        received += clients.events()
      }
    }
    let received = 0
    await withClients(sizes.commandWarmup)
    await probe(sizes.commandWarmup)
    const chunk = Math.ceil(sizes.commandSamples / CHUNKS)
    for (let done = 0, i = 0; done < sizes.commandSamples; done += chunk, i++) {
      const count = Math.min(chunk, sizes.commandSamples - done)
      // Alternate which side goes first, so neither always follows the other's leftovers.
      if (i % 2 === 0) {
        samples.with.push(...(await withClients(count)))
        samples.without.push(...(await probe(count)))
      } else {
        samples.without.push(...(await probe(count)))
        samples.with.push(...(await withClients(count)))
      }
    }
    const timedWith = sizes.commandWarmup + samples.with.length
    if (received < timedWith * CLIENTS) throw new Error(`the clients got ${received} agent events for ${timedWith} restarts × ${CLIENTS}`)
    const summary = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(2)} p99 ${percentile(xs, 99).toFixed(2)} max ${percentile(xs, 100).toFixed(2)} ms`
    log(`events_fanout (${runtime}, N=${sizes.agents}): ${CLIENTS} clients ${summary(samples.with)}; none ${summary(samples.without)}; ${received} agent events delivered`)
    return [makeResult({
      name: figureName('events_fanout', runtime), unit: 'ms', runtime,
      value: percentile(samples.with, 99),
      baseline: 'the same hub and fleet, no client on the events stream', baseline_value: percentile(samples.without, 99),
      detail: `command_latency_p99 with ${CLIENTS} events clients vs none; N=${sizes.agents}, ${samples.with.length} requests each`,
    }, { kind: 'max', ratio: 1.3 })]
  }))
}

/**
 * `count` clients reading the events stream with node:http (lighter than fetch, so that the
 * clients, on the same machine, take less of the CPU the hub needs); resolves once each has
 * its first bytes. `events()` counts the `agent` events they got.
 */
async function openClients(server: ServerUnderTest, count: number) {
  const requests: ClientRequest[] = []
  let events = 0
  let waiter: { atLeast: number; resolve: () => void } | null = null
  const marker = Buffer.from('\nevent: agent\n')
  const opened: Promise<void>[] = []
  for (let i = 0; i < count; i++) {
    opened.push(new Promise<void>((resolve, reject) => {
      const req = httpGet(`${server.url}/api/admin/events`, { headers: server.adminHeaders }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`events answered ${res.statusCode}`))
        // A read may end inside a marker (a large batch arrives in several reads): the end of each
        // read is kept and looked at again with the next, too short to hold a whole marker.
        let carry: Buffer = Buffer.alloc(0)
        res.on('data', (chunk: Buffer) => {
          resolve()
          const text = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk
          for (let at = text.indexOf(marker); at >= 0; at = text.indexOf(marker, at + 1)) events++
          carry = text.subarray(Math.max(0, text.length - (marker.length - 1)))
          if (waiter && events >= waiter.atLeast) waiter.resolve()
        })
        res.on('error', () => {})
      })
      req.on('error', (err) => reject(err))
      requests.push(req)
    }))
  }
  await Promise.all(opened)
  return {
    close: () => { for (const req of requests) req.destroy() },
    events: () => events,
    /** Resolves once the clients got `atLeast` agent events in all, or after `timeoutMs`. */
    received: (atLeast: number, timeoutMs: number) => new Promise<void>((resolve) => {
      if (events >= atLeast) return resolve()
      const timer = setTimeout(resolve, timeoutMs)
      waiter = { atLeast, resolve: () => { clearTimeout(timer); waiter = null; resolve() } }
    }),
  }
}
