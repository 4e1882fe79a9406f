/**
 * The hub app's dispatch (hub/api/dispatch.ts): Hono's rules for a chain of handlers (the
 * answer, middleware after `next`, errors to the error handler, not found, HEAD), with an
 * answer made at once handed back at once; and the hub's admin GET with a known token answered
 * that way.
 */
import { Hono, type Context } from 'hono'
import { describe, expect, it } from 'vitest'
import { dispatchAtOnce } from '../../hub/api/dispatch.ts'
import { createTestHub } from '../../support/in-process-hub.ts'
import { mintToken } from '../../hub/auth/auth.ts'
import { silentLogger } from '../../shared/log.ts'

const notFound = (c: Context) => c.json({ error: 'not_found' }, 404)
const onError = (err: Error, c: Context) => c.json({ error: err.message }, 500)

function app(dispatched = true) {
  const a = new Hono()
    .use((c, next) => {
      const routed: unknown = next()
      const mark = () => c.res.headers.set('x-after', 'yes')
      if (routed instanceof Promise) return routed.then(mark)
      mark()
      return undefined as unknown as Promise<void>
    })
    .get('/now', (c) => c.json({ at: 'once' }))
    .get('/later', async (c) => c.json({ at: 'later' }, 201))
    .get('/throws', () => {
      throw new Error('sync boom')
    })
    .get('/rejects', async () => {
      throw new Error('async boom')
    })
    .get('/nothing', (() => undefined) as never)
  a.notFound(notFound)
  a.onError(onError)
  if (dispatched) a.fetch = dispatchAtOnce(a as unknown as Hono, { notFound, onError })
  return a
}

const get = (a: Hono, path: string, method = 'GET') => a.fetch(new Request(`http://hub${path}`, { method }))

describe('dispatchAtOnce', () => {
  it('hands back an answer made at once as a Response, middleware after next included', async () => {
    const res = get(app(), '/now')
    expect(res).toBeInstanceOf(Response)
    expect((res as Response).headers.get('x-after')).toBe('yes')
    expect(await (res as Response).json()).toEqual({ at: 'once' })
  })

  it('waits for a handler that waits', async () => {
    const res = get(app(), '/later')
    expect(res).toBeInstanceOf(Promise)
    const answer = await res
    expect([answer.status, answer.headers.get('x-after'), await answer.json()]).toEqual([201, 'yes', { at: 'later' }])
  })

  it('answers as Hono does: errors, thrown or rejected, to the error handler; an unanswered chain; not found past the middleware; HEAD', async () => {
    const seen = async (a: Hono, path: string, method?: string) => {
      const res = await get(a, path, method)
      return [res.status, res.headers.get('x-after'), await res.text()]
    }
    for (const [path, method] of [['/throws'], ['/rejects'], ['/nothing'], ['/missing'], ['/now', 'HEAD'], ['/later', 'HEAD']]) {
      expect(await seen(app(), path, method)).toEqual(await seen(app(false), path, method))
    }
    expect(await seen(app(), '/throws')).toEqual([500, 'yes', JSON.stringify({ error: 'sync boom' })])
    expect(await seen(app(), '/rejects')).toEqual([500, 'yes', JSON.stringify({ error: 'async boom' })])
  })

  it('answers not found past the middleware', async () => {
    const missing = await get(app(), '/missing')
    expect([missing.status, missing.headers.get('x-after'), await missing.json()]).toEqual([404, 'yes', { error: 'not_found' }])
  })
})

describe('the hub app', () => {
  it('answers an admin GET with a token it has judged before at once, with its security headers', async () => {
    const secret = 's'.repeat(40)
    const hub = createTestHub({ secret, log: silentLogger })
    try {
      const { token } = await mintToken(secret, { role: 'admin', access: 'viewer', name: 'v' })
      const request = () => new Request('http://hub/api/admin/agents/nobody', { headers: { authorization: `Bearer ${token}` } })
      // The first request verifies the token's signature, which waits.
      expect((await hub.app.fetch(request())).status).toBe(404)
      const res = hub.app.fetch(request())
      expect(res).toBeInstanceOf(Response)
      expect((res as Response).status).toBe(404)
      expect((res as Response).headers.get('cache-control')).toBe('no-store')
      expect((res as Response).headers.get('x-content-type-options')).toBe('nosniff')
    } finally {
      hub.close()
    }
  })
})
