/**
 * Peers that vanish without a close frame, through a proxy that freezes the connection (no byte,
 * no FIN, no RST: a pulled cable, a frozen host). A sidecar (the real code) must notice a silent
 * hub within its ping interval plus pong timeout and come back once the network does; the hub
 * must drop a silent sidecar within its idle timeout and destroy its socket.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { identifiedSocket, type TestSocket } from '../../support/ws-client.ts'
import { waitFor } from '../../support/wait.ts'
import { startProxy, type Proxy } from './support/proxy.ts'
import { startSwarm } from './support/swarm.ts'
import { percentile, recordFigures } from './support/figures.ts'
import { HEAVY_RUNTIME, RUNTIMES, SCALE, sizes } from './support/scale.ts'

const cleanup: Array<() => Promise<void>> = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => {})
})

const SIDECARS = 10
/** Deno.upgradeWebSocket's own ping/pong timeout (its default; the hub does not change it). */
const DENO_IDLE_TIMEOUT_MS = 30_000

describe(`a hub that vanishes without a close frame (${SCALE === 'full' ? 'sidecar defaults' : 'short ping settings'})`, () => {
  it(`is noticed by every sidecar within ping interval + pong timeout, and the sidecars come back`, async () => {
    const { pingIntervalMs, pongTimeoutMs } = sizes.deadHubPing
    const hub = await startHubProcess({}, HEAVY_RUNTIME)
    cleanup.push(() => hub.stop())
    const proxy = await startProxy(Number(new URL(hub.url).port))
    cleanup.push(() => proxy.close())
    const ids = Array.from({ length: SIDECARS }, (_, i) => `dead-hub-${i}`)
    const swarm = await startSwarm({
      hubUrl: proxy.wsUrl, children: 1, link: { pingIntervalMs, pongTimeoutMs },
      agents: await Promise.all(ids.map(async (agentId) => ({ agentId, token: await hub.agentToken(agentId) }))),
    })
    cleanup.push(() => swarm.stop())
    const connected = async () => (await hub.api('GET', '/api/admin/agents')).body.agents.filter((a: any) => a.connected).length
    await waitFor(connected, (n) => n === SIDECARS, { what: 'sidecars connected' })

    const frozenAt = Date.now()
    proxy.freeze()
    const noticed = await waitFor(
      async () => (await swarm.report()).agents.map((a) => a.closes.find(([t]) => t > frozenAt)?.[0] ?? NaN),
      (times) => times.every((t) => !Number.isNaN(t)),
      { timeoutMs: pingIntervalMs + pongTimeoutMs + 10_000, intervalMs: 100, what: 'every sidecar noticed' },
    )
    const latency = noticed.map((t) => t - frozenAt)
    const { agents: logs } = await swarm.report()
    // Noticed by the pong timeout, not by anything else: the link said so, and not before it could.
    expect(logs.map((a) => a.deadHub.filter((t) => t > frozenAt).length > 0)).toEqual(ids.map(() => true))
    expect(Math.min(...latency)).toBeGreaterThanOrEqual(pongTimeoutMs - 50)
    expect(Math.max(...latency)).toBeLessThanOrEqual(pingIntervalMs + pongTimeoutMs + 500)

    // The network comes back: attempts made into the blackhole time out (10 s handshake), then connect.
    const thawedAt = Date.now()
    proxy.thaw()
    await waitFor(async () => (await swarm.report()).agents.filter((a) => a.identified.some((t) => t > thawedAt)).length, (n) => n === SIDECARS, { timeoutMs: 60_000, intervalMs: 200, what: 'sidecars back' })
    const back = (await swarm.report()).agents.map((a) => a.identified.find((t) => t > thawedAt)! - thawedAt)
    await waitFor(connected, (n) => n === SIDECARS, { what: 'hub sees them all' })

    await recordFigures(`dead-hub-${HEAVY_RUNTIME}`, {
      sidecars: SIDECARS, ping_interval_ms: pingIntervalMs, pong_timeout_ms: pongTimeoutMs,
      bound_ms: pingIntervalMs + pongTimeoutMs,
      noticed_after_ms: { min: Math.min(...latency), p50: percentile(latency, 50), max: Math.max(...latency) },
      back_after_network_returned_ms: { p50: percentile(back, 50), max: Math.max(...back) },
    })
  })
})

describe.each(RUNTIMES)('a sidecar that stops answering (%s hub)', (runtime) => {
  it('is dropped by the hub within its idle timeout, and its socket destroyed', async () => {
    const idleMs = sizes.silentIdleTimeoutMs
    const checkMs = Math.max(1000, Math.floor(idleMs / 3))
    const hub: HubProcess = await startHubProcess(SCALE === 'full' ? {} : { AGENTCOM_IDLE_TIMEOUT_MS: String(idleMs) }, runtime)
    cleanup.push(() => hub.stop())
    const proxy: Proxy = await startProxy(Number(new URL(hub.url).port))
    cleanup.push(() => proxy.close())

    // Silent ones behind the proxy, and one straight to the hub that keeps pinging.
    const pingEvery = Math.floor(idleMs / 4)
    const silent: TestSocket[] = []
    for (let i = 0; i < 5; i++) silent.push(await identifiedSocket(proxy.wsUrl, `silent-${i}`, await hub.agentToken(`silent-${i}`)))
    const healthy = await identifiedSocket(hub.wsUrl, 'healthy', await hub.agentToken('healthy'))
    const pinger = setInterval(() => [...silent, healthy].forEach((s) => s.ws.readyState === 1 && s.send({ type: 'ping' })), pingEvery)
    cleanup.push(async () => clearInterval(pinger))
    await new Promise((resolve) => setTimeout(resolve, pingEvery + 100)) // one ping round through the proxy
    const frozenAt = Date.now()
    proxy.freeze()

    await waitFor(
      async () => (await hub.api('GET', '/api/admin/agents')).body.agents.filter((a: any) => a.agent_id.startsWith('silent-') && !a.connected).length,
      (n) => n === 5, { timeoutMs: idleMs + checkMs + 10_000, intervalMs: 100, what: 'silent agents dropped' },
    )
    // When the hub let go of each (whatever noticed first), from its own log: its lines arrive
    // through a pipe, which may come after the API's answer that showed them gone.
    const droppedAt = () => hub.logs.flatMap((l) => (l.startsWith('{') ? [JSON.parse(l)] : []))
      .filter((l) => l.msg === 'agent disconnected' && l.agent_id.startsWith('silent-')).map((l) => Date.parse(l.time))
    const dropped = await waitFor(async () => droppedAt(), (times) => times.length >= 5, { timeoutMs: 5000, what: 'hub log lines of the drops' })
    expect(dropped).toHaveLength(5)
    const droppedAfter = dropped.map((t) => t - frozenAt)
    const byHub = hub.logs.filter((l) => l.includes('"msg":"closing silent connection"')).length
    // Deno pings every socket itself and drops one that does not answer in 30 s (its idleTimeout),
    // which comes first when the hub's own idle timeout is longer.
    const bound = runtime === 'deno' ? Math.min(idleMs + checkMs, DENO_IDLE_TIMEOUT_MS) : idleMs + checkMs
    if (runtime === 'node' || idleMs + checkMs < DENO_IDLE_TIMEOUT_MS) {
      expect(byHub).toBe(5)
      // The last frame went through at most one ping interval before the freeze.
      expect(Math.min(...droppedAfter)).toBeGreaterThanOrEqual(idleMs - pingEvery - 100)
    }
    expect(Math.max(...droppedAfter)).toBeLessThanOrEqual(bound + 500)

    // The hub's side of each TCP connection: destroyed at once on Node (ws terminate()). Deno has
    // no terminate(): its close handshake waits on the silent peer, so there it is only reported.
    const torn = runtime === 'node' || byHub === 0
      ? await waitFor(async () => proxy.pairs.slice(0, 5).map((p) => p.upstreamClosedAt), (times) => times.every((t) => t !== null), { timeoutMs: 5000, what: 'hub sockets destroyed' })
      : proxy.pairs.slice(0, 5).map((p) => p.upstreamClosedAt)
    // Which log line is which connection is not known: each teardown is set against the nearest drop.
    const teardownAfterDrop = torn.map((t) => (t === null ? null : Math.min(...dropped.map((d) => Math.abs(t - d)))))
    if (runtime === 'node' || byHub === 0) expect(Math.max(...teardownAfterDrop.map(Number))).toBeLessThanOrEqual(1000)

    healthy.send({ type: 'ping' })
    expect(await healthy.next('pong')).toEqual({ type: 'pong' })
    expect((await hub.api('GET', '/api/admin/agents/healthy')).body.connected).toBe(true)
    clearInterval(pinger)
    healthy.close()
    await recordFigures(`silent-sidecar-${runtime}`, {
      idle_timeout_ms: idleMs, check_every_ms: checkMs, bound_ms: idleMs + checkMs,
      dropped_after_freeze_ms: { min: Math.min(...droppedAfter), max: Math.max(...droppedAfter) },
      dropped_by: byHub === 5 ? 'hub idle timeout (4003)' : byHub === 0 ? 'Deno ping/pong timeout' : `hub ${byHub}, runtime ${5 - byHub}`,
      tcp_destroyed_after_drop_ms: teardownAfterDrop,
    })
  })
})
