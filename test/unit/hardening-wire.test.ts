/**
 * Hardening (v3) of the wire, on the unit harness: every string of a frame bounded, an `agent`
 * event only on a change, logged strings cut, refusals logged once per peer per interval.
 * Sockets come through the real socket layer with a recording WSContext, as an adapter would.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { waitUntil } from '../../support/wait.ts'
import type { Hub, HubOptions } from '../../hub/app.ts'
import { startInProcessHub, type FakeSocket } from '../../support/in-process-hub.ts'
import { signAgentToken } from '../../hub/auth/auth.ts'
import { RefusalLog, peerKey } from '../../hub/security/refusal-log.ts'
import { MAX_LOGGED_CHARS, createLogger, silentLogger } from '../../shared/log.ts'
import { decodeSidecarMessage } from '../../shared/protocol.ts'

const SECRET = 's'.repeat(40)
const PM2 = { name: 'agent', pm_id: 0, pid: 100, status: 'online', uptime_ms: 5, restart_count: 0, memory_bytes: 1000 }

describe('frame string bounds (shared/protocol.ts)', () => {
  const error = (frame: object) => {
    const decoded = decodeSidecarMessage(JSON.stringify(frame))
    return decoded.ok ? 'ok' : `${decoded.error} ${decoded.detail}`
  }

  it.each([
    ['pm2_info.name', (n: number) => ({ type: 'pm2_info', pm2_info: { ...PM2, name: 'n'.repeat(n) } }), 256],
    ['pm2_info.status', (n: number) => ({ type: 'pm2_info', pm2_info: { ...PM2, status: 's'.repeat(n) } }), 256],
    ['restart_id', (n: number) => ({ type: 'agent_restarting', reason: 'r', restart_id: 'i'.repeat(n) }), 64],
    ['reason', (n: number) => ({ type: 'agent_restarting', reason: 'r'.repeat(n) }), 200],
    ['task_interrupted reason', (n: number) => ({ type: 'task_interrupted', task_id: 't', reason: 'r'.repeat(n) }), 200],
    ['error detail (bytes)', (n: number) => ({ type: 'error', error: 'x', detail: 'd'.repeat(n) }), 1024],
    ['identify pm2_info.name', (n: number) => ({
      type: 'identify', agent_id: 'a', token: 't', protocol_version: 1, supervised: true, pm2_info: { ...PM2, name: 'n'.repeat(n) },
    }), 256],
  ])('%s: at the bound is read, one past it is invalid_message', (_name, frame, bound) => {
    expect(error(frame(bound))).toBe('ok')
    expect(error(frame(bound + 1))).toMatch(/^invalid_message /)
  })

  it('counts an error detail in UTF-8 bytes: 342 three-byte characters pass, 342 and one more do not', () => {
    expect(error({ type: 'error', error: 'x', detail: '€'.repeat(341) })).toBe('ok')
    expect(error({ type: 'error', error: 'x', detail: '€'.repeat(342) })).toMatch(/^invalid_message /)
  })
})

let hub: Hub | null = null
let sockets: FakeSocket[] = []

function startHub(options: Partial<HubOptions> = {}) {
  const started = startInProcessHub({ secret: SECRET, log: silentLogger, ...options })
  sockets = started.opened
  hub = started.hub
  return hub
}

afterEach(() => {
  hub?.close()
  hub = null
})

async function identifiedSocket(agentId: string): Promise<FakeSocket> {
  await hub!.app.request('/ws', { headers: { upgrade: 'websocket' } })
  const sock = sockets[sockets.length - 1]
  const token = await signAgentToken(SECRET, agentId)
  sock.send(JSON.stringify({ type: 'identify', agent_id: agentId, token, protocol_version: 1, pm2_info: PM2, supervised: true }))
  await waitUntil(() => expect(sock.sent).toContainEqual({ type: 'identified', agent_id: agentId }))
  return sock
}

describe('frames past a bound, and repeated reports, on the hub', () => {
  it('answers a pm2_info past a bound invalid_message and keeps the agent as it was', async () => {
    startHub()
    const sock = await identifiedSocket('bounded')
    const agentEvents: unknown[] = []
    hub!.events.log.subscribe((event) => { if (event.kind === 'agent') agentEvents.push(event) })
    sock.send(JSON.stringify({ type: 'pm2_info', pm2_info: { ...PM2, name: 'x'.repeat(257) } }))
    expect(sock.sent.at(-1)).toMatchObject({ type: 'error', error: 'invalid_message' })
    expect(hub!.fleet.get('bounded')!.pm2_info).toEqual(PM2)
    expect(agentEvents).toEqual([])
  })

  it('sends an agent event for a changed pm2_info and none for the same one again', async () => {
    startHub()
    const sock = await identifiedSocket('steady')
    const agentEvents: unknown[] = []
    hub!.events.log.subscribe((event) => { if (event.kind === 'agent') agentEvents.push(JSON.parse(event.json)) })
    const changed = { ...PM2, memory_bytes: 2000 }
    // One frame per turn: changes within one turn make one event anyway.
    for (let i = 0; i < 5; i++) {
      sock.send(JSON.stringify({ type: 'pm2_info', pm2_info: changed }))
      await new Promise((resolve) => setTimeout(resolve, 0))
    }
    expect(agentEvents).toHaveLength(1)
    expect(agentEvents[0]).toMatchObject({ agent_id: 'steady', pm2_info: changed })
    expect(sock.sent.filter((m) => m.type === 'error')).toEqual([])
  })
})

describe('logs', () => {
  it('cuts every logged string at MAX_LOGGED_CHARS and says how much was cut', () => {
    const lines: string[] = []
    createLogger('t', (line) => lines.push(line)).warn('m'.repeat(5000), { detail: 'd'.repeat(5000), n: 1 })
    const entry = JSON.parse(lines[0])
    expect(entry.msg).toBe(`${'m'.repeat(MAX_LOGGED_CHARS)}...(${5000 - MAX_LOGGED_CHARS} more chars)`)
    expect(entry.detail).toBe(`${'d'.repeat(MAX_LOGGED_CHARS)}...(${5000 - MAX_LOGGED_CHARS} more chars)`)
    expect(entry.n).toBe(1)
  })
})

describe('RefusalLog: one line per peer per interval', () => {
  function refusals(maxPeers?: number) {
    const lines: any[] = []
    let now = 0
    const log = new RefusalLog({
      log: createLogger('t', (line) => lines.push(JSON.parse(line))), clock: { now: () => now }, intervalMs: 10_000, maxPeers,
    })
    return { log, lines, at: (ms: number) => { now = ms } }
  }

  it('logs the first refusal of a peer, counts the rest of the interval, and reports the count with the next line', () => {
    const r = refusals()
    for (let port = 1; port <= 50; port++) r.log.warn('identify refused', { agent_id: 'a', peer: `10.0.0.1:${port}`, reason: 'bad_signature' })
    expect(r.lines.map((l) => [l.msg, l.peer, l.suppressed])).toEqual([['identify refused', '10.0.0.1:1', 0]])
    r.at(9_999)
    r.log.warn('identify refused', { agent_id: 'a', peer: '10.0.0.1:99', reason: 'bad_signature' })
    expect(r.lines).toHaveLength(1)
    r.at(10_000)
    r.log.warn('identify refused', { agent_id: 'b', peer: '10.0.0.1:100', reason: 'expired' })
    expect(r.lines.map((l) => [l.msg, l.peer, l.suppressed])).toEqual([
      ['identify refused', '10.0.0.1:1', 0], ['identify refused', '10.0.0.1:100', 50],
    ])
  })

  it('keeps a window per kind of refusal: a peer\'s refused identifies do not hide its refused admin requests', () => {
    const r = refusals()
    r.log.warn('identify refused', { peer: '10.0.0.1:1' })
    r.log.warn('admin request refused', { peer: '10.0.0.1:2' })
    r.log.warn('admin request refused', { peer: '10.0.0.1:3' })
    expect(r.lines.map((l) => [l.msg, l.peer])).toEqual([['identify refused', '10.0.0.1:1'], ['admin request refused', '10.0.0.1:2']])
  })

  it('logs each peer on its own: one peer\'s flood does not hide another\'s refusal', () => {
    const r = refusals()
    for (let i = 0; i < 10; i++) r.log.warn('identify refused', { peer: `10.0.0.1:${i}` })
    r.log.warn('identify refused', { peer: '10.0.0.2:1' })
    r.log.warn('identify refused', { peer: '::1:5000' })
    expect(r.lines.map((l) => l.peer)).toEqual(['10.0.0.1:0', '10.0.0.2:1', '::1:5000'])
  })

  it('remembers at most maxPeers peers', () => {
    const r = refusals(100)
    for (let i = 0; i < 1000; i++) r.log.warn('identify refused', { peer: `10.0.${i >> 8}.${i & 255}:1` })
    expect(r.log.size).toBe(100)
    expect(r.lines).toHaveLength(1000)
  })

  it('takes the port off a peer, IPv4 or IPv6', () => {
    expect([peerKey('127.0.0.1:5000'), peerKey('::1:5000'), peerKey('::ffff:10.0.0.1:80'), peerKey(null)])
      .toEqual(['127.0.0.1', '::1', '::ffff:10.0.0.1', ''])
  })
})
