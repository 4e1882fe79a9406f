/**
 * One in-process hub with healing for test/unit/healing-hub*.test.ts: frames go through the real
 * socket layer (recording sockets behind a stand-in upgrade, as an adapter would open them),
 * routes through the app, the clock is the test's (`clock.now`). `useHealingHub()` registers the
 * hook that closes the hub and the webhook servers after each test; each test starts its hub
 * with `startHub()`, and `hub` is the current one.
 */
import { afterEach, expect, vi } from 'vitest'
import { waitUntil } from './wait.ts'
import type { Hub, HubOptions } from '../hub/app.ts'
import { startInProcessHub, type FakeSocket } from './in-process-hub.ts'
import { signAdminToken, signAgentToken } from '../hub/auth/auth.ts'
import type { Change } from '../hub/events/changes.ts'
import { silentLogger } from '../shared/log.ts'
import { startWebhookServer } from './webhook.ts'

export const SECRET = 's'.repeat(40)
export const MB = 1024 * 1024

export type Sock = FakeSocket

export let hub: Hub | null = null
/** The hub's clock: tests move it forward with `clock.now += ms`. */
export const clock = { now: Date.now() }
/** Every change the hub published since it started (tests empty it with `changes.length = 0`). */
export const changes: Change[] = []
/** Every socket the hub opened, in order. */
let opened: Sock[] = []
const closers: (() => Promise<void>)[] = []

export function useHealingHub(): void {
  afterEach(async () => {
    vi.useRealTimers()
    hub?.close()
    hub = null
    for (const close of closers.splice(0)) await close()
  })
}

export function startHub(options: Partial<HubOptions> = {}): Hub {
  clock.now = Date.now() // tokens are checked against this clock
  changes.length = 0
  const started = startInProcessHub({ secret: SECRET, log: silentLogger, clock: { now: () => clock.now }, ...options })
  opened = started.opened
  hub = started.hub
  hub.changes.subscribe((c) => changes.push(c))
  return hub
}

/** A sidecar process (pm2 `restart_count`, `pid`) connecting and identifying. */
export async function join(agentId: string, { restart_count = 0, pid = 100, supervised = true } = {}): Promise<Sock> {
  await hub!.app.request('/ws', { headers: { upgrade: 'websocket' } })
  const sock = opened.at(-1)!
  sock.send({
    type: 'identify', agent_id: agentId, token: await signAgentToken(SECRET, agentId), protocol_version: 1, supervised,
    instance_id: `${pid}-${restart_count}`,
    pm2_info: { name: `agentcom-${agentId}`, pm_id: 0, pid, status: 'online', uptime_ms: 1, restart_count, memory_bytes: null },
  })
  await waitUntil(() => expect(sock.sent.map((m) => m.type)).toContain('identified'))
  return sock
}

export const stats = (rssMb: number) => ({ type: 'stats', rss_bytes: rssMb * MB, heap_used_bytes: 5 * MB, event_loop_delay_ms: 0.5, uptime_ms: 1234 })

export async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await hub!.app.request(`/api/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${await signAdminToken(SECRET)}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, body: await res.json() }
}

/** Lets healing's asynchronous steps (a request filed, a decider step) run to their end. */
export const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve))
}

export const restartFrames = (sock: Sock) => sock.sent.filter((m) => m.type === 'restart_sidecar')

/** A webhook server for alerts, closed after the test. */
export async function webhook() {
  const server = await startWebhookServer()
  closers.push(server.close)
  return server
}
