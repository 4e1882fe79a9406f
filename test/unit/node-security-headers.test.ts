/**
 * The security headers as the Node hub sends them over a real server on port 0: there they are
 * added by the server's response as it writes its head (hub/node/security-headers-response.ts)
 * rather than to the app's answer, so this checks what a client receives, errors, an answer
 * with its own caching and a refused upgrade included (hardening-http.test.ts checks the app's
 * answers themselves), and that response alone with every way of writing a head.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { connect, Socket, type AddressInfo } from 'node:net'
import { createServer, IncomingMessage, ServerResponse as NodeServerResponse, type ServerResponse } from 'node:http'
import { SecurityHeadersResponse } from '../../hub/node/security-headers-response.ts'
import { startNodeHub } from '../../hub/node/serve.ts'
import { signAdminToken } from '../../hub/auth/auth.ts'
import { silentLogger } from '../../shared/log.ts'

const SECRET = 'h'.repeat(40)
let close: (() => Promise<void>) | null = null
afterEach(async () => {
  await close?.()
  close = null
})

async function startHub() {
  const hub = await startNodeHub({ secret: SECRET, port: 0, host: '127.0.0.1', log: silentLogger })
  close = () => hub.close()
  return hub
}

/** An upgrade request on a raw socket; resolves with all the hub wrote back. */
function rawUpgrade(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(
      `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'))
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk) => (text += chunk))
    socket.on('end', () => resolve(text))
    socket.on('error', reject)
  })
}

describe('security headers on the Node server', () => {
  it('marks API answers no-store and nosniff, errors included, each header once', async () => {
    const hub = await startHub()
    const admin = { authorization: `Bearer ${await signAdminToken(SECRET)}` }
    const answers = {
      health: await fetch(`${hub.url}/health`),
      agents: await fetch(`${hub.url}/api/admin/agents`, { headers: admin }),
      unauthorized: await fetch(`${hub.url}/api/admin/agents`),
      notFound: await fetch(`${hub.url}/nothing`),
      invalid: await fetch(`${hub.url}/api/admin/tasks`, { method: 'POST', headers: admin, body: '[' }),
    }
    for (const [name, res] of Object.entries(answers)) {
      await res.arrayBuffer()
      expect([name, res.headers.get('cache-control'), res.headers.get('x-content-type-options')]).toEqual([name, 'no-store', 'nosniff'])
    }
    expect([answers.agents.status, answers.unauthorized.status, answers.notFound.status, answers.invalid.status]).toEqual([200, 401, 404, 400])
  })

  it('keeps the caching an answer set itself (the dashboard revalidates its assets)', async () => {
    const hub = await startHub()
    const res = await fetch(`${hub.url}/dashboard.js`)
    await res.arrayBuffer()
    expect(res.headers.get('cache-control')).toBe('no-cache')
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
  })

  it('sends them with an upgrade refused outside /ws', async () => {
    const hub = await startHub()
    const text = await rawUpgrade(hub.port, '/api/admin/events')
    expect(text).toMatch(/^HTTP\/1\.1 404 /)
    expect(text.toLowerCase()).toContain('\r\ncache-control: no-store\r\n')
    expect(text.toLowerCase()).toContain('\r\nx-content-type-options: nosniff\r\n')
  })
})

describe('the Node hub\'s server response', () => {
  /** What a client receives from a plain Node server on port 0 using that response, answering with `answer`. */
  async function received(answer: (res: ServerResponse) => void): Promise<Response> {
    const server = createServer({ ServerResponse: SecurityHeadersResponse }, (_req, res) => answer(res))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    close = () => new Promise((resolve) => server.close(() => resolve()))
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
    await res.arrayBuffer()
    return res
  }

  it.each([
    ['headers passed to writeHead', (res: ServerResponse) => res.writeHead(200, { 'Content-Type': 'text/plain' }).end('x'), 'no-store'],
    ['a status message and headers', (res: ServerResponse) => res.writeHead(200, 'Fine', { 'Content-Type': 'text/plain' }).end('x'), 'no-store'],
    ['a raw header list', (res: ServerResponse) => res.writeHead(200, ['Content-Type', 'text/plain']).end('x'), 'no-store'],
    ['no writeHead at all', (res: ServerResponse) => res.end('x'), 'no-store'],
    ['its own caching, in any case', (res: ServerResponse) => res.writeHead(200, { 'Cache-Control': 'max-age=5' }).end('x'), 'max-age=5'],
    ['its own caching set before', (res: ServerResponse) => res.setHeader('Cache-Control', 'private').writeHead(200, {}).end('x'), 'private'],
    ['its own caching in a raw list', (res: ServerResponse) => res.writeHead(200, ['cache-control', 'no-cache']).end('x'), 'no-cache'],
    ['another nosniff value', (res: ServerResponse) => res.writeHead(200, { 'X-Content-Type-Options': 'other' }).end('x'), 'no-store'],
    ['another nosniff value in a raw list', (res: ServerResponse) => res.writeHead(200, ['x-content-type-options', 'other']).end('x'), 'no-store'],
  ])('adds them to an answer with %s, each once', async (_name, answer, caching) => {
    const res = await received(answer)
    expect([res.headers.get('cache-control'), res.headers.get('x-content-type-options')]).toEqual([caching, 'nosniff'])
  })

  it('is a ServerResponse made by a constructor function while Node\'s is one (V8 never kept a derived class\'s compile)', () => {
    const nodeMakesItAFunction = !/^class\b/.test(Function.prototype.toString.call(NodeServerResponse))
    expect(/^class\b/.test(Function.prototype.toString.call(SecurityHeadersResponse))).toBe(!nodeMakesItAFunction)
    const res = new SecurityHeadersResponse(new IncomingMessage(new Socket()))
    expect(res).toBeInstanceOf(NodeServerResponse)
    expect(res.constructor).toBe(SecurityHeadersResponse)
  })
})
