/**
 * The operator CLI's pure parts: tables, ages, MiB, colour, the progress line, the SSE reader
 * and the one-line error messages.
 */
import { describe, expect, it } from 'vitest'
import { ago, mib, paint, progressLine, table, useColour } from '../../cli/operator/output.ts'
import { readSse } from '../../cli/operator/sse.ts'
import { describeError } from '../../cli/operator/client.ts'

const NOW = 1_700_000_000_000

describe('output for people', () => {
  it('aligns columns to the widest cell, colour codes not counted', () => {
    const text = table(['AGENT', 'STATUS', 'LAST SEEN'], [['a-1', paint(true, 'green', 'idle'), '5 s ago'], ['agent-22', 'offline', '-']], false)
    expect(text).toBe('AGENT     STATUS   LAST SEEN\na-1       \x1b[32midle\x1b[0m     5 s ago\nagent-22  offline  -\n')
  })

  it('says how long ago in the largest whole unit', () => {
    expect([ago(NOW - 5_400, NOW), ago(NOW - 59_000, NOW), ago(NOW - 180_000, NOW), ago(NOW - 7_200_000, NOW), ago(NOW - 3 * 86_400_000, NOW), ago(null, NOW)])
      .toEqual(['5 s ago', '59 s ago', '3 min ago', '2 h ago', '3 d ago', '-'])
    expect(ago(NOW + 2000, NOW)).toBe('0 s ago')
  })

  it('shows memory in MiB', () => {
    expect([mib(62_914_560), mib(1536 * 1024), mib(null), mib(undefined)]).toEqual(['60.0 MiB', '1.5 MiB', '-', '-'])
  })

  it('colours only on a terminal, and never with NO_COLOR', () => {
    expect(useColour({ write() {}, isTTY: true }, {})).toBe(true)
    expect(useColour({ write() {}, isTTY: true }, { NO_COLOR: '1' })).toBe(false)
    expect(useColour({ write() {} }, {})).toBe(false)
    expect(paint(false, 'red', 'x')).toBe('x')
  })

  it('rewrites the progress line on a terminal, prints changes only elsewhere', () => {
    let tty = ''
    const onTty = progressLine({ write: (s: string) => (tty += s), isTTY: true })
    onTty.update('1/2')
    onTty.update('2/2')
    onTty.done()
    expect(tty).toBe('\r\x1b[2K1/2\r\x1b[2K2/2\n')
    let log = ''
    const onLog = progressLine({ write: (s: string) => (log += s) })
    for (const text of ['1/2', '1/2', '2/2']) onLog.update(text)
    onLog.done()
    expect(log).toBe('1/2\n2/2\n')
  })
})

describe('readSse', () => {
  it('reads events split anywhere, with ids, multi-line data and comments skipped', async () => {
    const text = ': keep-alive\n\nid: e-1\nevent: agent\ndata: {"a":1}\n\nevent: reset\r\nid: e-2\r\ndata: {}\r\n\r\ndata: one\ndata: two\n\n'
    const bytes = new TextEncoder().encode(text)
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 7) controller.enqueue(bytes.slice(i, i + 7))
        controller.close()
      },
    })
    const events = []
    for await (const event of readSse(body)) events.push(event)
    expect(events).toEqual([
      { event: 'agent', id: 'e-1', data: '{"a":1}' },
      { event: 'reset', id: 'e-2', data: '{}' },
      { event: 'message', id: null, data: 'one\ntwo' },
    ])
  })
})

describe('describeError', () => {
  it('says what went wrong in one line, never with the token', () => {
    expect(describeError('GET', '/api/admin/agents', 401, { error: 'unauthorized' }, 'secret.token.value'))
      .toBe('the hub refused the token (401 unauthorized): it is invalid, expired, revoked or not an admin token')
    expect(describeError('GET', '/api/admin/agents', 401, { error: 'unauthorized' }, undefined)).toBe('no token: set AGENTCOM_TOKEN or pass --token (401 unauthorized)')
    expect(describeError('POST', '/api/admin/agents/a-1/restart', 403, { error: 'forbidden', required_role: 'operator' }, 't'))
      .toBe("the token's role may not do this: it needs operator (403 forbidden)")
    expect(describeError('POST', '/api/admin/tasks', 400, { error: 'invalid_request', issues: [{ path: 'timeout_ms', message: 'too small' }] }, 't'))
      .toBe('invalid request: timeout_ms: too small (400)')
    expect(describeError('POST', '/api/admin/agents/a%201/restart', 404, { error: 'agent_not_connected' }, 't')).toBe('agent not connected: a 1 (404 agent_not_connected)')
    expect(describeError('POST', '/api/admin/rollouts', 409, { error: 'not_supervised', agent_id: 'a-2' }, 't')).toBe('not supervised: a-2 (409 not_supervised)')
    expect(describeError('GET', '/api/admin/audit', 404, { error: 'not_found' }, 't')).toBe('GET /api/admin/audit: this hub has no such route (404 not_found)')
    expect(describeError('GET', '/api/admin/agents', 502, '<html>', 't')).toBe('GET /api/admin/agents answered 502')
  })
})
