/**
 * `node --import tsx bench/profile-v2.ts rps|storm|storm-quarters|command [node|deno] [N] [rounds] [profile dir]`:
 * the loads of admin_api_rps, identify_storm and command_latency_p99 against the hub and its
 * baseline, printing each server's CPU time per request (or per identify) from /proc beside
 * the figure's own measure. `storm-quarters`: one side's storm (AGENTCOM_PROFILE_SIDE=bare-ws
 * for the baseline) timed in quarters. CPU per request holds still on a shared machine where req/s and
 * ms do not. With a profile dir (Node hub only) the hub runs under the CPU profiler
 * (support/cpu-profile.mjs) and writes its profile there when it exits.
 */
import { mkdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import autocannon from 'autocannon'
import type { Runtime } from '../support/hub-process.ts'
import { CONNECT_WINDOW, connectFleet, starter, withHubAndBareHono, withServer, withSwarm, type ConnectedFleet } from './support/fleet.ts'
import { median, percentile } from './support/stats.ts'
import { cpuMsByThreadName, processCpuMs } from './support/proc-cpu.ts'

const [mode = 'rps', runtimeArg = 'node', n = '1000', roundsArg = '3', dir] = process.argv.slice(2)
const runtime = runtimeArg as Runtime
const agents = Number(n)
const rounds = Number(roundsArg)
const rate = Number(process.env.AGENTCOM_PROFILE_RATE ?? 0)
if (dir) {
  await mkdir(resolve(dir), { recursive: true })
  // Inherited by the hub started below; Node refuses --cpu-prof in NODE_OPTIONS.
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import ${resolve(import.meta.dirname, 'support/cpu-profile.mjs')}`.trim()
  process.env.AGENTCOM_CPU_PROFILE_DIR = resolve(dir)
}

const show = (xs: number[], digits = 1) => xs.map((x) => x.toFixed(digits)).join(' ')

if (mode === 'rps') {
  await withHubAndBareHono(runtime, agents, async ({ hub, bare }) => {
    const out = { hub: { rps: [] as number[], us: [] as number[] }, bare: { rps: [] as number[], us: [] as number[] } }
    const threads = { hub: new Map<string, number>(), bare: new Map<string, number>() }
    const load = async (fleet: ConnectedFleet, seconds: number) => {
      const cpu0 = processCpuMs(fleet.server.pid)
      const threads0 = cpuMsByThreadName(fleet.server.pid)
      const r = await autocannon({
        url: `${fleet.server.url}${fleet.server.agentPath.replace('{id}', 'bench-agent-7')}`,
        headers: fleet.server.adminHeaders, connections: 10, duration: seconds, pipelining: 1,
        // AGENTCOM_PROFILE_RATE: a fixed request rate, so that both servers wait for requests
        // alike and CPU per request compares the work each does, not how often each was woken.
        ...(rate > 0 ? { overallRate: rate } : {}),
      })
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${r.non2xx} non-2xx, ${r.errors} errors`)
      // CPU per request by thread (the main thread, V8's workers, libuv's pool), summed over the timed rounds.
      const sums = fleet === hub ? threads.hub : threads.bare
      for (const [name, at] of cpuMsByThreadName(fleet.server.pid)) sums.set(name, (sums.get(name) ?? 0) + at - (threads0.get(name) ?? 0))
      return { rps: r['2xx'] / r.duration, us: ((processCpuMs(fleet.server.pid) - cpu0) * 1000) / r['2xx'] }
    }
    process.stderr.write(`pids: hub ${hub.server.pid}, bare ${bare.server.pid}\n`)
    await load(hub, 1)
    await load(bare, 1)
    threads.hub.clear()
    threads.bare.clear()
    const requests = { hub: 0, bare: 0 }
    for (let round = 0; round < rounds; round++) {
      for (const side of round % 2 === 0 ? (['hub', 'bare'] as const) : (['bare', 'hub'] as const)) {
        const r = await load(side === 'hub' ? hub : bare, 4)
        out[side].rps.push(r.rps)
        out[side].us.push(r.us)
        requests[side] += r.rps * 4
      }
    }
    for (const side of ['hub', 'bare'] as const) {
      const perThread = [...threads[side]].filter(([, ms]) => ms > 0).map(([name, ms]) => `${name} ${((ms * 1000) / requests[side]).toFixed(1)}`)
      process.stderr.write(`${side} µs CPU/req by thread: ${perThread.join(', ')}\n`)
    }
    process.stdout.write(`rps ${runtime} N=${agents}: hub ${show(out.hub.rps, 0)} req/s, ${show(out.hub.us)} µs CPU/req; ` +
      `bare ${show(out.bare.rps, 0)} req/s, ${show(out.bare.us)} µs CPU/req; ratio ${(median(out.hub.rps) / median(out.bare.rps)).toFixed(3)}, ` +
      `CPU ratio ${(median(out.hub.us) / median(out.bare.us)).toFixed(3)}\n`)
  })
} else if (mode === 'storm') {
  const out = { hub: { ms: [] as number[], us: [] as number[] }, 'bare-ws': { ms: [] as number[], us: [] as number[] } }
  for (let round = 0; round < rounds; round++) {
    for (const side of round % 2 === 0 ? (['hub', 'bare-ws'] as const) : (['bare-ws', 'hub'] as const)) {
      await withServer(starter(side, runtime), (server) => withSwarm(async (swarm) => {
        const cpu0 = processCpuMs(server.pid)
        const threads0 = cpuMsByThreadName(server.pid)
        const ms = await connectFleet(swarm, server, agents)
        const threads = [...cpuMsByThreadName(server.pid)].map(([name, at]) => [name, at - (threads0.get(name) ?? 0)] as const).filter(([, d]) => d > 0)
        process.stderr.write(`${side} threads (CPU ms): ${threads.map(([name, d]) => `${name} ${d}`).join(', ')}\n`)
        out[side].ms.push(ms)
        out[side].us.push(((processCpuMs(server.pid) - cpu0) * 1000) / agents)
      }))
    }
  }
  process.stdout.write(`storm ${runtime} N=${agents}: hub ${show(out.hub.ms, 0)} ms, ${show(out.hub.us)} µs CPU/identify; ` +
    `bare ${show(out['bare-ws'].ms, 0)} ms, ${show(out['bare-ws'].us)} µs CPU/identify; ratio ${(median(out.hub.ms) / median(out['bare-ws'].ms)).toFixed(3)}, ` +
    `CPU ratio ${(median(out.hub.us) / median(out['bare-ws'].us)).toFixed(3)}\n`)
} else if (mode === 'storm-quarters') {
  // One storm of N on a fresh hub (or bare server) in four parts of N/4: CPU per identify in each
  // part, the main thread apart from V8's workers, so a cold start (the first part) stands out.
  const side = process.env.AGENTCOM_PROFILE_SIDE === 'bare-ws' ? 'bare-ws' : 'hub'
  for (let round = 0; round < rounds; round++) {
    await withServer(starter(side, runtime), (server) => withSwarm(async (swarm) => {
      const parts: string[] = []
      for (let part = 0; part < 4; part++) {
        const count = Math.floor(agents / 4)
        const cpu0 = processCpuMs(server.pid)
        const main0 = cpuMsByThreadName(server.pid)
        await swarm.connect({ wsUrl: server.wsUrl, count, idPrefix: `part-${part}-`, secret: server.secret, window: CONNECT_WINDOW, timeoutMs: 120_000 })
        const main = [...cpuMsByThreadName(server.pid)].filter(([name]) => name.startsWith('main '))
          .reduce((sum, [name, at]) => sum + at - (main0.get(name) ?? 0), 0)
        parts.push(`${(((processCpuMs(server.pid) - cpu0) * 1000) / count).toFixed(0)} (main ${((main * 1000) / count).toFixed(0)})`)
      }
      process.stdout.write(`storm-quarters ${side} ${runtime} N=${agents}: µs CPU/identify per quarter ${parts.join(', ')}\n`)
    }))
  }
} else if (mode === 'command') {
  await withHubAndBareHono(runtime, agents, async ({ hub, bare }) => {
    const samples = { hub: [] as number[], bare: [] as number[] }
    const cpu = { hub: 0, bare: 0 }
    let offset = 0
    const probe = async (side: 'hub' | 'bare', count: number) => {
      const fleet = side === 'hub' ? hub : bare
      const cpu0 = processCpuMs(fleet.server.pid)
      const xs = await fleet.swarm.probe({
        httpUrl: fleet.server.url, pathTemplate: fleet.server.restartPath, headers: fleet.server.adminHeaders, offset, count, timeoutMs: 10_000,
      })
      cpu[side] += processCpuMs(fleet.server.pid) - cpu0
      return xs
    }
    const warm = Math.min(50, Math.floor(agents / 10))
    await probe('hub', warm)
    await probe('bare', warm)
    cpu.hub = cpu.bare = 0
    offset += warm
    const chunk = Math.ceil((agents - warm) / 20)
    while (offset + chunk <= agents) {
      samples.hub.push(...(await probe('hub', chunk)))
      samples.bare.push(...(await probe('bare', chunk)))
      offset += chunk
    }
    const summary = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(2)} p99 ${percentile(xs, 99).toFixed(2)}`
    process.stdout.write(`command ${runtime} N=${agents}: hub ${summary(samples.hub)} ms, ${((cpu.hub * 1000) / samples.hub.length).toFixed(1)} µs CPU/req; ` +
      `bare ${summary(samples.bare)} ms, ${((cpu.bare * 1000) / samples.bare.length).toFixed(1)} µs CPU/req; ` +
      `p99 ratio ${(percentile(samples.hub, 99) / percentile(samples.bare, 99)).toFixed(3)}\n`)
  })
}
