/**
 * The Node hub's own upgrade path (hub/node/websocket.ts, upgrade-request.ts) on a real server
 * on port 0: the light Request the app routes an upgrade with, and what the listener writes on
 * the raw socket for each answer of the app.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import WebSocket from 'ws'
import { upgradeRequest } from '../../hub/node/upgrade-request.ts'
import { startNodeHub } from '../../hub/node/serve.ts'
import { signAgentToken } from '../../hub/auth/auth.ts'
import { createLogger, silentLogger } from '../../shared/log.ts'
import { PROTOCOL_VERSION } from '../../shared/protocol.ts'

const SECRET = 'u'.repeat(40)
const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0)) await close()
})

/** Writes `head` (an HTTP request, with an upgrade) on a raw socket; resolves with all it got back. */
function rawRequest(port: number, head: string, body = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`${head}\r\n\r\n${body}`))
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk) => (text += chunk))
    socket.on('end', () => resolve(text))
    socket.on('error', reject)
  })
}

/** A real server that turns each upgrade into the app's Request and hands it to `seen`. */
async function captureUpgrades(seen: (req: Request | null, incoming: IncomingMessage) => Promise<void>): Promise<number> {
  const server: Server = createServer()
  server.on('upgrade', (incoming: IncomingMessage, socket) => {
    void seen(upgradeRequest(incoming), incoming).finally(() => socket.end('HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n'))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  closers.push(() => new Promise((resolve) => server.close(() => resolve())))
  return (server.address() as AddressInfo).port
}

describe('the upgrade Request', () => {
  it('carries method, a normalized URL and the headers, and is a Request', async () => {
    let req: Request | null = null
    const port = await captureUpgrades(async (r) => {
      req = r
    })
    await rawRequest(port, 'GET /a/../ws?x=1 HTTP/1.1\r\nHost: LOCALHOST:9\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-One: 1\r\nX-One: 2')
    expect(req).toBeInstanceOf(Request)
    expect(req!.method).toBe('GET')
    expect(req!.url).toBe('http://localhost:9/ws?x=1')
    expect(req!.headers.get('upgrade')).toBe('websocket')
    expect(req!.headers.get('x-one')).toBe('1, 2')
  })

  it('becomes a whole Request for anything else: a body, a signal, clone()', async () => {
    const read: unknown[] = []
    const port = await captureUpgrades(async (r) => {
      read.push(r!.signal instanceof AbortSignal, r!.bodyUsed, r!.clone().url, r!.cache)
    })
    await rawRequest(port, 'GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket')
    expect(read).toEqual([true, false, 'http://h/ws', 'default'])
  })

  it('is null for a Host that makes no URL', async () => {
    const seen: (Request | null)[] = []
    const port = await captureUpgrades(async (r) => {
      seen.push(r)
    })
    await rawRequest(port, 'GET /ws HTTP/1.1\r\nHost: a b\r\nConnection: Upgrade\r\nUpgrade: websocket')
    expect(seen).toEqual([null])
  })

  it('gives each upgrade its own URL when the last one is remembered', async () => {
    const urls: (string | null)[] = []
    const port = await captureUpgrades(async (r) => {
      urls.push(r?.url ?? null)
    })
    for (const [target, host] of [['/ws', 'h:81'], ['/ws', 'a b'], ['/ws', 'a b'], ['/ws', 'h:81'], ['/x/../ws', 'h:81'], ['/ws', 'H:80']]) {
      await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket`)
    }
    expect(urls).toEqual(['http://h:81/ws', null, null, 'http://h:81/ws', 'http://h:81/ws', 'http://h/ws'])
  })
})

describe('upgrades on the Node hub', () => {
  async function hub() {
    const running = await startNodeHub({ port: 0, host: '127.0.0.1', secret: SECRET, log: silentLogger })
    closers.push(() => running.close())
    return running
  }
  const upgradeHead = (path: string, host = '127.0.0.1') =>
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==`

  it('opens /ws and identifies an agent over it', async () => {
    const running = await hub()
    const ws = new WebSocket(`ws://127.0.0.1:${running.port}/ws`)
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
    ws.send(JSON.stringify({ type: 'identify', protocol_version: PROTOCOL_VERSION, agent_id: 'u-1', token: await signAgentToken(SECRET, 'u-1'), supervised: false, pm2_info: null }))
    const answer = await new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))))
    expect(answer).toBe('{"type":"identified","agent_id":"u-1"}')
    expect(running.hub.fleet.get('u-1')?.peer).not.toBeNull()
    ws.close()
  })

  it("logs an identified agent's peer as the address and port its socket came from", async () => {
    const lines: string[] = []
    const running = await startNodeHub({ port: 0, host: '127.0.0.1', secret: SECRET, log: createLogger('hub', (line) => lines.push(line)) })
    closers.push(() => running.close())
    const ws = new WebSocket(`ws://127.0.0.1:${running.port}/ws`)
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
    ws.send(JSON.stringify({ type: 'identify', protocol_version: PROTOCOL_VERSION, agent_id: 'u-2', token: await signAgentToken(SECRET, 'u-2'), supervised: false, pm2_info: null }))
    await new Promise((resolve) => ws.once('message', resolve))
    const identified = lines.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'agent identified')
    expect(identified.peer).toBe(`127.0.0.1:${(ws as unknown as { _socket: { localPort: number } })._socket.localPort}`)
    ws.close()
  })

  it("writes the app's own answer on the raw socket for an upgrade it does not take", async () => {
    const running = await hub()
    const answer = await rawRequest(running.port, upgradeHead('/nope'))
    expect(answer).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/)
    expect(answer).toMatch(/\r\nconnection: close\r\n/i)
    expect(answer.split('\r\n\r\n')[1]).toBe('{"error":"not_found","detail":"WebSocket upgrades are served at /ws only"}')
    // The security headers of every answer, once each (the listener writes them, not the app).
    const head = answer.split('\r\n\r\n')[0].toLowerCase().split('\r\n')
    expect(head.filter((line) => line.startsWith('cache-control:'))).toEqual(['cache-control: no-store'])
    expect(head.filter((line) => line.startsWith('x-content-type-options:'))).toEqual(['x-content-type-options: nosniff'])
  })

  it("writes a /ws refusal's security headers too", async () => {
    const running = await hub()
    const answer = await rawRequest(running.port, upgradeHead('/ws', 'a b'))
    const head = answer.split('\r\n\r\n')[0].toLowerCase().split('\r\n')
    expect(head[0]).toBe('http/1.1 400 bad request')
    expect(head).toContain('cache-control: no-store')
    expect(head).toContain('x-content-type-options: nosniff')
  })

  it('answers 400 to an upgrade whose Host makes no URL', async () => {
    const running = await hub()
    expect(await rawRequest(running.port, upgradeHead('/ws', 'a b'))).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/)
  })
})
