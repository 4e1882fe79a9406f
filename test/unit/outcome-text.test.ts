/**
 * A result or error holding U+0000 (which PostgreSQL cannot hold) is stored, acknowledged and
 * answered alike on one hub and in a cluster (test/pg/cluster-hubs.test.ts): as U+FFFD.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { storableText, unstorablePath } from '../../hub/outcome-text.ts'
import { signAdminToken, signAgentToken } from '../../hub/auth.ts'
import { startNodeHub } from '../../hub/node/serve.ts'
import { silentLogger } from '../../shared/log.ts'
import { identifiedSocket, type TestSocket } from '../../support/ws-client.ts'

const SECRET = 'n'.repeat(40)

describe('storableText', () => {
  it('replaces U+0000 in strings and keys, deep, and returns a value without one as it is', () => {
    const clean = { a: ['x', 1, null, { b: true }] }
    expect(storableText(clean)).toBe(clean)
    expect(storableText('a\u0000b\u0000')).toBe('a\uFFFDb\uFFFD')
    expect(storableText({ 'k\u0000': [{ v: '\u0000' }, 2] })).toEqual({ 'k\uFFFD': [{ v: '\uFFFD' }, 2] })
    expect(storableText(7)).toBe(7)
    // Too deep to walk (the result limit fails it): given back as it is, never a throw.
    let deep: unknown = 'x\u0000'
    for (let i = 0; i < 100_000; i++) deep = { a: deep }
    expect(storableText(deep)).toBe(deep)
    // Lone surrogates too (PostgreSQL refuses them as well); a well-formed pair stays.
    expect(storableText(['\ud800x', 'y\udc00', '\ud83d\ude00'])).toEqual(['\uFFFDx', 'y\uFFFD', '\ud83d\ude00'])
  })
})

describe('unstorablePath', () => {
  it('names where a request holds U+0000 or a lone surrogate, in a value or a key; null when nowhere', () => {
    expect(unstorablePath({ a: ['x', 1, null, { b: '\ud83d\ude00 \ufffd \u0001' }] })).toBeNull()
    expect(unstorablePath('\u0000')).toEqual([])
    expect(unstorablePath({ a: ['x', { b: 'y\u0000' }] })).toEqual(['a', '1', 'b'])
    expect(unstorablePath({ a: { 'k\ud800': 1 } })).toEqual(['a', 'k\uFFFD'])
    expect(unstorablePath(['\udc00'])).toEqual(['0'])
    // Too deep to walk (the size checks refuse it): null, never a throw.
    let deep: unknown = 'x\u0000'
    for (let i = 0; i < 100_000; i++) deep = { a: deep }
    expect(unstorablePath(deep)).toBeNull()
  })
})

describe('an outcome holding U+0000 on one hub', () => {
  let running: Awaited<ReturnType<typeof startNodeHub>> | null = null
  let socket: TestSocket | null = null
  afterEach(async () => {
    socket?.close()
    await running?.close()
  })

  it('is stored with U+FFFD and acknowledged, for a result and for an error', async () => {
    running = await startNodeHub({ port: 0, host: '127.0.0.1', secret: SECRET, log: silentLogger })
    const admin = await signAdminToken(SECRET)
    const api = async (method: string, path: string, body?: unknown): Promise<any> => {
      const res = await fetch(`${running!.url}/api/admin${path}`, { method, headers: { authorization: `Bearer ${admin}` }, body: JSON.stringify(body) })
      return res.json()
    }
    socket = await identifiedSocket(`${running.url.replace('http', 'ws')}/ws`, 'nul-1', await signAgentToken(SECRET, 'nul-1'))
    const ok = await api('POST', '/tasks', { input: 1, agent_id: 'nul-1' })
    await socket.next('task_assign')
    socket.send({ type: 'task_accepted', task_id: ok.task_id })
    socket.send({ type: 'task_complete', task_id: ok.task_id, result: { 'k\u0000': 'a\u0000b' } })
    expect(await socket.next('task_ack')).toEqual({ type: 'task_ack', task_id: ok.task_id })
    expect(await api('GET', `/tasks/${ok.task_id}`)).toMatchObject({ status: 'completed', result: { 'k\uFFFD': 'a\uFFFDb' } })
    const bad = await api('POST', '/tasks', { input: 2, agent_id: 'nul-1' })
    await socket.next('task_assign')
    socket.send({ type: 'task_accepted', task_id: bad.task_id })
    socket.send({ type: 'task_failed', task_id: bad.task_id, error: 'boom\u0000' })
    expect(await socket.next('task_ack')).toEqual({ type: 'task_ack', task_id: bad.task_id })
    expect(await api('GET', `/tasks/${bad.task_id}`)).toMatchObject({ status: 'failed', error: 'boom\uFFFD' })
  })
})
