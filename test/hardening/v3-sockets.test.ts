/**
 * Hardening (v3), the WebSocket side, on real hub processes (Node and Deno): silent sockets
 * holding every pending slot never keep out an agent with a valid token; a socket the hub
 * closes is gone within 10 s whether or not its peer answers the close; and what a frame
 * larger than the limits costs the hub before it is refused (figures for docs/reliability.md).
 */
import { readFile } from 'node:fs/promises'
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { identifiedSocket } from '../../support/ws-client.ts'
import { recordFigures } from './support/figures.ts'
import { RUNTIMES } from './support/scale.ts'

const hubs: HubProcess[] = []
const cleanup: Array<() => void> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0)) fn()
  for (const hub of hubs.splice(0)) await hub.stop()
})

async function hubOn(runtime: (typeof RUNTIMES)[number], env: Record<string, string> = {}) {
  const hub = await startHubProcess(env, runtime)
  hubs.push(hub)
  return hub
}

/**
 * A raw TCP client that completes the WebSocket handshake and then never reads a frame or
 * answers one: a peer that will not answer the hub's close. Resolves once upgraded; `gone`
 * resolves with the time (ms since the upgrade) at which the hub's side ended the connection.
 */
function silentPeer(wsUrl: string): Promise<{ socket: net.Socket; upgradedAt: number; gone: Promise<number> }> {
  const url = new URL(wsUrl)
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname, () => {
      socket.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
    })
    cleanup.push(() => socket.destroy())
    let head = ''
    let upgradedAt = 0
    const gone = new Promise<number>((done) => socket.once('close', () => done(Date.now() - upgradedAt)))
    socket.on('error', () => {})
    socket.on('data', (chunk) => {
      if (upgradedAt) return
      head += chunk.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(`not upgraded: ${head.split('\r\n')[0]}`))
      upgradedAt = Date.now()
      resolve({ socket, upgradedAt, gone })
    })
  })
}

/** The hub process's resident memory in MiB (Linux). */
async function rssMiB(hub: HubProcess): Promise<number> {
  const status = await readFile(`/proc/${hub.child.pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024
}

describe.each(RUNTIMES)('hardening v3, sockets (%s hub)', (runtime) => {
  it('lets a sidecar identify on its first or second attempt while AGENTCOM_MAX_PENDING is full of sockets that send nothing', async () => {
    const hub = await hubOn(runtime, { AGENTCOM_MAX_PENDING: '20' })
    // One after another, so the hub registers them in this order and silent[0] waits longest.
    const silent: Awaited<ReturnType<typeof silentPeer>>[] = []
    for (let i = 0; i < 20; i++) silent.push(await silentPeer(hub.wsUrl))
    const attempts: string[] = []
    let agent = null
    for (let i = 0; i < 2 && !agent; i++) {
      agent = await identifiedSocket(hub.wsUrl, 'kept-out', await hub.agentToken('kept-out')).catch((err) => {
        attempts.push(String(err))
        return null
      })
    }
    // The first attempt is answered 503 too_many_pending and makes room; the second gets in.
    expect(attempts.length).toBeLessThanOrEqual(1)
    expect(agent).not.toBeNull()
    expect((await hub.api('GET', '/api/admin/agents/kept-out')).body.connected).toBe(true)
    // The one that gave way was the silent socket waiting longest: closed, and (as it never
    // answers the close) gone within the 10 s every closed socket gets.
    expect(await Promise.race([silent[0].gone.then(() => 'gone'), new Promise((r) => setTimeout(() => r('open'), 10_000))])).toBe('gone')
    agent!.ws.terminate()
    await recordFigures(`v3-pending-full-${runtime}`, { max_pending: 20, silent: 20, failed_attempts: attempts.length })
  })

  it('destroys within 10 s a socket it closed whose peer never answers the close', async () => {
    const hub = await hubOn(runtime, { AGENTCOM_IDENTIFY_TIMEOUT_MS: '1000' })
    const peers = await Promise.all(Array.from({ length: 5 }, () => silentPeer(hub.wsUrl)))
    const goneAfter = await Promise.all(peers.map((p) => Promise.race([p.gone, new Promise<number>((r) => setTimeout(() => r(Infinity), 40_000))])))
    await recordFigures(`v3-close-unanswered-${runtime}`, {
      identify_timeout_ms: 1000, gone_after_ms: goneAfter, bound_ms: 10_000,
    })
    // Closed (4008) at the identify timeout, then destroyed within the grace (5 s) after it.
    for (const ms of goneAfter) expect(ms).toBeLessThanOrEqual(10_000)
  })

  it('measures what a frame over the limits costs the hub before it is refused', async () => {
    const hub = await hubOn(runtime)
    const before = await rssMiB(hub)
    const sizes = [64 * 1024, 1024 * 1024, 16 * 1024 * 1024]
    const codes: number[] = []
    for (const size of sizes) {
      const ws = new WebSocket(hub.wsUrl, { maxPayload: 1024 })
      ws.on('error', () => {})
      await new Promise((resolve) => ws.once('open', resolve))
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
      ws.send(Buffer.alloc(size, 'x').toString())
      codes.push(await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 20_000))]))
      ws.terminate()
    }
    const after = await rssMiB(hub)
    await recordFigures(`v3-oversized-first-frame-${runtime}`, { frame_bytes: sizes, close_codes: codes, rss_before_mib: before, rss_after_mib: after })
    // The socket is refused with 1009 (or cut, 1006) whatever the runtime buffered first.
    for (const code of codes) expect([1009, 1006]).toContain(code)
  })

  it('refuses a frame over 16 KiB before identify, and over 256 KiB after, before the rest of it arrives (Node; Deno measured)', async () => {
    const hub = await hubOn(runtime)
    /** Sends the head of a text frame announcing `announced` bytes and `sent` of them; resolves with the close code the hub sends, or 'none' within 3 s. */
    async function partialFrame(announced: number, sent: number, identifyFirst: boolean): Promise<number | 'none' | 'gone'> {
      const peer = await silentPeer(hub.wsUrl)
      const frames: Buffer[] = []
      peer.socket.on('data', (d) => frames.push(d))
      const mask = Buffer.from([1, 2, 3, 4])
      const frame = (payload: Buffer, length = payload.length) => {
        const head = length < 126 ? Buffer.from([0x81, 0x80 | length])
          : length < 65536 ? Buffer.from([0x81, 0x80 | 126, length >> 8, length & 255])
            : Buffer.concat([Buffer.from([0x81, 0x80 | 127, 0, 0, 0, 0]), Buffer.from([length >>> 24, (length >> 16) & 255, (length >> 8) & 255, length & 255])])
        const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]))
        return Buffer.concat([head, mask, masked])
      }
      if (identifyFirst) {
        const token = await hub.agentToken('big-frames')
        peer.socket.write(frame(Buffer.from(JSON.stringify({ type: 'identify', agent_id: 'big-frames', token, protocol_version: 1, pm2_info: null, supervised: true }))))
        await new Promise((resolve) => setTimeout(resolve, 500))
      }
      peer.socket.write(frame(Buffer.alloc(sent, 'x'), announced).subarray(0, 14 + sent))
      const outcome = await Promise.race([
        peer.gone.then(() => 'gone' as const),
        new Promise<'none'>((resolve) => setTimeout(() => resolve('none'), 3000)),
      ])
      // The close frame the hub sent, if any: 0x88, a length, then the code.
      const all = Buffer.concat(frames)
      const at = all.indexOf(0x88)
      peer.socket.destroy()
      return at >= 0 && at + 3 < all.length ? all.readUInt16BE(at + 2) : outcome
    }
    const beforeIdentify = await partialFrame(100 * 1024, 17 * 1024, false)
    const afterIdentify = await partialFrame(300 * 1024, 257 * 1024, true)
    await recordFigures(`v3-frame-limit-before-buffering-${runtime}`, { before_identify: beforeIdentify, after_identify: afterIdentify })
    // Deno.upgradeWebSocket has no payload limit: it reads a frame whole (up to its own 64 MiB)
    // before the hub sees it (docs/reliability.md has the measured cost). Measured, not held.
    if (runtime === 'deno') return
    expect(beforeIdentify).toBe(1009)
    expect(afterIdentify).toBe(1009)
  })
})
