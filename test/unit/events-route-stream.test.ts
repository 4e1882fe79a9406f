/**
 * `GET /api/admin/events` in process, the stream over time: batches paced across clients,
 * keep-alives, and the ends of a stream (token revoked or expired, a client that does not
 * read, the hub closing). Setup in support/events-hub.ts (access, views and replay:
 * events-route.test.ts).
 */
import { describe, expect, it, vi } from 'vitest'
import { mintToken } from '../../hub/auth/auth.ts'
import { EVENT_STREAM_DEFAULTS } from '../../hub/events/event-stream.ts'
import { SECRET, admin, connect, hub, open, start, useEventsHub, warnings } from '../../support/events-hub.ts'

useEventsHub()

describe('GET /api/admin/events over time', () => {
  it('writes each batch to one client at a time, each at its own ms of the batch interval', async () => {
    vi.useFakeTimers()
    start()
    connect('a-1')
    const clients = [await open(), await open(), await open()]
    await vi.advanceTimersByTimeAsync(5)
    for (const c of clients) await c.readUntil((t) => t.includes('agentcom events'))
    const has = () => clients.map((c) => c.raw.text.includes('event: agent'))
    const reads = clients.map((c) => c.readUntil((t) => t.includes('event: agent')))
    hub.fleet.drain('a-1')
    await vi.advanceTimersByTimeAsync(EVENT_STREAM_DEFAULTS.batchMs - 1)
    expect(has()).toEqual([false, false, false])
    await vi.advanceTimersByTimeAsync(1)
    expect(has()).toEqual([true, false, false])
    await vi.advanceTimersByTimeAsync(1)
    expect(has()).toEqual([true, true, false])
    await vi.advanceTimersByTimeAsync(1)
    expect(has()).toEqual([true, true, true])
    await Promise.all(reads)
    for (const c of clients) await c.cancel()
  })

  it('writes a comment every 15 s to an idle stream', async () => {
    vi.useFakeTimers()
    start()
    const s = await open()
    await s.readUntil((t) => t.length > 0)
    const before = s.raw.text
    await vi.advanceTimersByTimeAsync(14_999)
    expect(s.raw.text).toBe(before)
    const read = s.readUntil((t) => t.length > before.length)
    await vi.advanceTimersByTimeAsync(1)
    await read
    expect(s.raw.text.slice(before.length)).toBe(':\n\n')
    const read2 = s.readUntil((t) => t.length > before.length + 3)
    await vi.advanceTimersByTimeAsync(15_000)
    await read2
    expect(s.raw.text.slice(before.length)).toBe(':\n\n:\n\n')
    await s.cancel()
  })

  it('ends a stream whose token was revoked, at the next keep-alive', async () => {
    vi.useFakeTimers()
    start()
    const own = await mintToken(SECRET, { role: 'admin' })
    const s = await open({ authorization: `Bearer ${own.token}` })
    await s.readUntil((t) => t.length > 0)
    const revoked = await hub.app.request('/api/admin/tokens/revoke', {
      method: 'POST', headers: { authorization: `Bearer ${admin}` }, body: JSON.stringify({ jti: own.jti }),
    })
    expect(revoked.status).toBe(200)
    const ended = s.readUntil(() => false)
    await vi.advanceTimersByTimeAsync(15_000)
    await ended
    expect(s.ended).toBe(true)
    expect((await hub.app.request('/api/admin/events', { headers: { authorization: `Bearer ${own.token}` } })).status).toBe(401)
  })

  it('ends a stream whose token expired, at the first keep-alive after', async () => {
    vi.useFakeTimers()
    start()
    const own = await mintToken(SECRET, { role: 'admin', ttlS: 20 })
    const s = await open({ authorization: `Bearer ${own.token}` })
    await vi.advanceTimersByTimeAsync(15_000)
    await s.readUntil((t) => t.endsWith(':\n\n'))
    expect(s.ended).toBe(false)
    const ended = s.readUntil(() => false)
    await vi.advanceTimersByTimeAsync(15_000)
    await ended
    expect(s.ended).toBe(true)
  })

  it('ends the stream of a client that does not read once its unsent bytes pass the bound', async () => {
    start({ eventStream: { maxQueuedBytes: 8192, batchMs: 0 } })
    for (let i = 0; i < 50; i++) connect(`a-${i}`)
    const s = await open()
    // Never read: each turn's events pile up for this client.
    for (let round = 0; round < 20 && warnings.length === 0; round++) {
      for (let i = 0; i < 50; i++) hub.fleet.drain(`a-${i}`)
      await new Promise((resolve) => setTimeout(resolve, 0))
      for (let i = 0; i < 50; i++) hub.fleet.resume(`a-${i}`)
      await new Promise((resolve) => setTimeout(resolve, 0))
    }
    expect(warnings).toEqual(['events stream closed: the client is not reading'])
    // What the runtime had already taken is still readable, then the stream ends.
    await s.readUntil(() => false)
    expect(s.ended).toBe(true)
    expect(s.raw.text.length).toBeLessThan(8192 + 4096)
  })

  it('ends every stream when the hub closes', async () => {
    const s = await open()
    await s.readUntil((t) => t.length > 0)
    hub.close()
    await s.readUntil(() => false)
    expect(s.ended).toBe(true)
  })
})
