/**
 * The security headers as the Node hub sends them over a real server on port 0: there they are
 * set on Node's response (hub/security/headers.ts) rather than on the app's answer, so this
 * checks what a client receives, errors, an answer with its own caching and a refused upgrade
 * included (hardening-http.test.ts checks the app's answers themselves).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { connect } from 'node:net'
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
