/**
 * `node --import tsx bench/profile-admin-get.ts [rounds] [requests per round] [agents]`: the CPU
 * of one admin_api_rps request in one process, without sockets or a load generator, so that a
 * change of a microsecond shows on a shared machine where req/s cannot. Each request goes
 * through @hono/node-server's listener with a real `IncomingMessage` and the server's response
 * class (the hub's own, as hub/node/serve.ts passes it), its answer buffered without a socket:
 * `GET /api/admin/agents/bench-agent-7` with an admin token on a hub holding N agents, beside
 * the bare route of bench/bare/hono-app.ts. Prints µs of CPU (user + system) per request, the
 * median of each side's rounds, rounds alternating.
 */
import { getRequestListener } from '@hono/node-server'
import { IncomingMessage, ServerResponse } from 'node:http'
import { Socket } from 'node:net'
import { startNodeHub } from '../hub/node/serve.ts'
import { SecurityHeadersResponse } from '../hub/node/security-headers-response.ts'
import { signAdminToken } from '../hub/auth/auth.ts'
import { createBareApp } from './bare/hono-app.ts'
import { median } from './support/stats.ts'
import { createLogger } from '../shared/log.ts'

const [roundsArg = '7', perRoundArg = '20000', agentsArg = '1000'] = process.argv.slice(2)
const rounds = Number(roundsArg)
const perRound = Number(perRoundArg)
const secret = 'b'.repeat(64)
const running = await startNodeHub({ port: 0, host: '127.0.0.1', secret, log: createLogger('hub', () => {}) })
const { hub } = running
for (let i = 0; i < Number(agentsArg); i++) {
  const agentId = `bench-agent-${i}`
  hub.fleet.identify(agentId, { send: () => {}, close: () => {} } as never, {
    supervised: true, instance_id: `i-${i}`, version: '1.0.0', host: null,
    pm2_info: { name: `agentcom-${agentId}`, pm_id: i, pid: 100_000 + i, status: 'online', uptime_ms: 1234, restart_count: 0, memory_bytes: 61_000_000 } as never,
  } as never)
}
const headers = { host: '127.0.0.1:1234', authorization: `Bearer ${await signAdminToken(secret)}` }

// The fetch startNodeHub hands @hono/node-server for a request without a body: the app's own.
const hubListener = getRequestListener(hub.app.fetch)
const noop = () => {}
const bareListener = getRequestListener(createBareApp((() => noop) as never).fetch)

/** One request as Node's server makes it: method, url and raw headers, the body already ended. */
function request(socket: Socket, url: string): IncomingMessage {
  const req = new IncomingMessage(socket)
  req.method = 'GET'
  req.url = url
  req.httpVersionMajor = 1
  req.httpVersionMinor = 1
  req.httpVersion = '1.1'
  req.rawHeaders = Object.entries(headers).flat()
  // Node builds `headers` from the parser's lines, not from rawHeaders set afterwards.
  req.headers = { ...headers }
  req.complete = true
  req.push(null)
  return req
}

async function run(side: 'hub' | 'bare', count: number): Promise<number> {
  const socket = new Socket()
  const [listener, Response, url] = side === 'hub'
    ? [hubListener, SecurityHeadersResponse, '/api/admin/agents/bench-agent-7']
    : [bareListener, ServerResponse, '/bare/agents/bench-agent-7']
  let bad = 0
  const start = process.cpuUsage()
  for (let i = 0; i < count; i++) {
    const req = request(socket, url)
    const res = new Response(req)
    await listener(req, res)
    if (res.statusCode !== 200) bad++
    // Let the stream's ticks run now and then, as a server's turns would.
    if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve))
  }
  const used = process.cpuUsage(start)
  if (bad > 0) throw new Error(`${side}: ${bad} answers not 200`)
  return (used.user + used.system) / count
}

await run('hub', perRound)
await run('bare', perRound)
const us = { hub: [] as number[], bare: [] as number[] }
for (let round = 0; round < rounds; round++) {
  for (const side of round % 2 === 0 ? (['hub', 'bare'] as const) : (['bare', 'hub'] as const)) us[side].push(await run(side, perRound))
}
const show = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ')
process.stdout.write(`admin GET in process: hub ${median(us.hub).toFixed(2)} µs (${show(us.hub)}), bare ${median(us.bare).toFixed(2)} µs (${show(us.bare)}), ` +
  `hub beyond bare ${(median(us.hub) - median(us.bare)).toFixed(2)} µs\n`)
await running.close()
