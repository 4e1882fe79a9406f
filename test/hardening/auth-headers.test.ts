/**
 * The admin gate reads the Authorization header as it came on the wire (on Node, from the raw
 * header list, hub/access/gate.ts): one header with the admin token gets through, and two of
 * them are refused however they are spelled, as before, on Node and Deno. Sent on a raw socket,
 * because fetch joins repeated headers before they leave.
 */
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { RUNTIMES } from './support/scale.ts'

/** One HTTP/1.1 GET with these header lines, answered status and body. */
function rawGet(url: string, path: string, headerLines: string[]): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk) => (text += chunk))
    socket.on('error', reject)
    socket.on('end', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) })
    })
    socket.write([`GET ${path} HTTP/1.1`, `Host: ${hostname}:${port}`, 'Connection: close', ...headerLines, '', ''].join('\r\n'))
  })
}

describe.each(RUNTIMES)('Authorization header on the wire (%s hub)', (runtime) => {
  let hub: HubProcess
  beforeAll(async () => {
    hub = await startHubProcess({}, runtime)
  })
  afterAll(async () => {
    await hub?.stop()
  })

  it('lets one admin token through, in any spelling of the header name', async () => {
    const token = await hub.adminToken()
    for (const name of ['Authorization', 'authorization', 'AUTHORIZATION']) {
      const res = await rawGet(hub.url, '/api/admin/agents', [`${name}: Bearer ${token}`])
      expect(res.status, name).toBe(200)
    }
  })

  it('refuses two Authorization headers, the same token twice or a good one beside a bad one', async () => {
    const token = await hub.adminToken()
    const pairs = [
      [`Authorization: Bearer ${token}`, `Authorization: Bearer ${token}`],
      [`Authorization: Bearer ${token}`, `authorization: Bearer not-a-jwt`],
      [`authorization: Bearer not-a-jwt`, `Authorization: Bearer ${token}`],
    ]
    for (const lines of pairs) {
      const res = await rawGet(hub.url, '/api/admin/agents', lines)
      expect({ status: res.status, body: res.body }, lines.join(' / ')).toEqual({ status: 401, body: '{"error":"unauthorized"}' })
    }
  })
})
