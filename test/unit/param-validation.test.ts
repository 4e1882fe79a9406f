/**
 * Path parameters (hub/api/validate.ts `params`): the last valid parameters are remembered, so
 * the same request again skips the schema; whatever comes between, each request is still
 * judged on its own values (an invalid one refused 400 after a valid one, and the other way).
 */
import { describe, expect, it } from 'vitest'
import { Hono } from 'hono'
import * as v from 'valibot'
import { params } from '../../hub/api/validate.ts'
import { AgentId } from '../../shared/protocol.ts'

function app() {
  let handled = 0
  const routes = new Hono().get('/agents/:agent_id', params(v.object({ agent_id: AgentId })), (c) => {
    handled++
    return c.json({ agent_id: c.req.valid('param').agent_id })
  })
  return { routes, handled: () => handled }
}

async function get(routes: Hono, path: string) {
  const res = await routes.request(path)
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

describe('path parameter validation', () => {
  it('answers the same valid parameters again, and judges each new value', async () => {
    const { routes, handled } = app()
    expect(await get(routes, '/agents/a-1')).toEqual({ status: 200, body: { agent_id: 'a-1' } })
    expect(await get(routes, '/agents/a-1')).toEqual({ status: 200, body: { agent_id: 'a-1' } })
    expect((await get(routes, '/agents/bad%20id')).status).toBe(400)
    expect((await get(routes, '/agents/%00')).status).toBe(400)
    expect(await get(routes, '/agents/a-2')).toEqual({ status: 200, body: { agent_id: 'a-2' } })
    expect(await get(routes, '/agents/a-1')).toEqual({ status: 200, body: { agent_id: 'a-1' } })
    expect(handled()).toBe(4)
  })

  it('never lets an invalid value through after it was refused, nor after a valid one', async () => {
    const { routes } = app()
    for (const path of ['/agents/x', '/agents/' + 'y'.repeat(65), '/agents/x', '/agents/' + 'y'.repeat(65)]) {
      expect((await get(routes, path)).status).toBe(path.length > 20 ? 400 : 200)
    }
  })
})
