/**
 * `GET /api/admin/agents` with `status`, `limit` and `cursor`: filters, pages that walk the
 * fleet by agent id whatever the order agents joined in, and 400 for a bad value.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createTestHub, type OneHub } from '../../support/in-process-hub.ts'
import { signAdminToken } from '../../hub/auth/auth.ts'
import { silentLogger } from '../../shared/log.ts'

const SECRET = 's'.repeat(40)

let hub: OneHub
let admin: string

beforeEach(async () => {
  hub = createTestHub({ secret: SECRET, log: silentLogger })
  admin = await signAdminToken(SECRET)
})
afterEach(() => hub.close())

const peers = new Map<string, { send(): void; close(): void }>()
function connect(agentId: string) {
  const peer = { send: () => {}, close: () => {} }
  peers.set(agentId, peer)
  hub.fleet.identify(agentId, peer, { supervised: true, instance_id: 'i', pm2_info: null })
  hub.tasks.identified(hub.fleet.get(agentId)!, null)
}

async function get(query: string) {
  const res = await hub.app.request(`/api/admin/agents${query}`, { headers: { authorization: `Bearer ${admin}` } })
  return { status: res.status, body: await res.json() as any }
}
const ids = (body: { agents: { agent_id: string }[] }) => body.agents.map((a) => a.agent_id)

/** Every page from the first, following next_cursor. */
async function allPages(query: string) {
  const pages: string[][] = []
  let cursor: string | null = null
  do {
    const { status, body } = await get(`${query}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)
    expect(status).toBe(200)
    pages.push(ids(body))
    cursor = body.next_cursor
    expect(pages.length).toBeLessThan(100)
  } while (cursor !== null)
  return pages
}

describe('GET /api/admin/agents: filter and pages', () => {
  it('without parameters: every agent, by agent id, and no next_cursor', async () => {
    for (const id of ['c', 'a', 'b-2', 'b-10']) connect(id)
    const { status, body } = await get('')
    expect(status).toBe(200)
    expect(ids(body)).toEqual(['a', 'b-10', 'b-2', 'c'])
    expect(body).not.toHaveProperty('next_cursor')
  })

  it('filters by status', async () => {
    for (const id of ['a', 'b', 'c', 'd']) connect(id)
    hub.fleet.disconnect(hub.fleet.get('b')!, peers.get('b')! as never)
    hub.tasks.create({}, 'c', 1000)
    await Promise.resolve()
    expect(ids((await get('?status=offline')).body)).toEqual(['b'])
    expect(ids((await get('?status=working')).body)).toEqual(['c'])
    expect(ids((await get('?status=idle')).body)).toEqual(['a', 'd'])
    expect(ids((await get('?status=restarting')).body)).toEqual([])
  })

  it('pages by limit and cursor, each agent once, and next_cursor null on the last page', async () => {
    const all = Array.from({ length: 25 }, (_, i) => `agent-${String(i).padStart(2, '0')}`)
    for (const id of [...all].reverse()) connect(id)
    const pages = await allPages('?limit=10')
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5])
    expect(pages.flat()).toEqual(all)
    // A page that ends exactly at the last agent says so.
    expect(await allPages('?limit=5')).toHaveLength(5)
    expect((await get('?limit=100')).body.next_cursor).toBeNull()
  })

  it('pages a filtered list, and a new agent shows on the page its id sorts to', async () => {
    for (let i = 0; i < 10; i++) connect(`a-${i}`)
    for (const i of [1, 4, 7]) hub.fleet.disconnect(hub.fleet.get(`a-${i}`)!, peers.get(`a-${i}`)! as never)
    const first = await get('?status=idle&limit=3')
    expect(ids(first.body)).toEqual(['a-0', 'a-2', 'a-3'])
    connect('a-3x')
    const second = await get(`?status=idle&limit=3&cursor=${first.body.next_cursor}`)
    expect(ids(second.body)).toEqual(['a-3x', 'a-5', 'a-6'])
    expect(await allPages('?status=offline&limit=2')).toEqual([['a-1', 'a-4'], ['a-7']])
  })

  it.each([
    ['?status=busy'], ['?limit=0'], ['?limit=-1'], ['?limit=abc'], ['?limit=1.5'], ['?limit=10001'],
    ['?limit=9999999'], ['?cursor=a-1'], ['?limit=10&cursor=has%20space'], ['?limit=10&cursor='],
  ])('answers %s with 400 invalid_request', async (query) => {
    connect('a-1')
    const { status, body } = await get(query)
    expect(status).toBe(400)
    expect(body.error).toBe('invalid_request')
    expect(body.issues.length).toBeGreaterThan(0)
  })

  it('takes limit up to 10 000', async () => {
    connect('a-1')
    expect(await get('?limit=10000')).toEqual({ status: 200, body: { agents: [expect.objectContaining({ agent_id: 'a-1' })], next_cursor: null } })
  })
})
