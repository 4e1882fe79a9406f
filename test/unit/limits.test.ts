/**
 * The hub's limits at their exact edges, on a fake clock: the frame budget, the connection
 * limit, frame size (as Deno hands frames over: the hub itself checks them). The budget alone
 * and the settings: limit-settings.test.ts.
 * Sockets come through the real socket layer with a recording WSContext, as an adapter would.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { waitUntil } from '../../support/wait.ts'
import type { Hub, HubOptions } from '../../hub/app.ts'
import { startInProcessHub, type FakeSocket } from '../../support/in-process-hub.ts'
import { CLOSE, MAX_FRAME_BYTES, MAX_IDENTIFY_BYTES } from '../../shared/protocol.ts'
import { MAX_UNSENT_BYTES } from '../../hub/sockets/connections.ts'
import { signAgentToken } from '../../hub/auth/auth.ts'

const SECRET = 's'.repeat(40)
import { silentLogger } from '../../shared/log.ts'

let hub: Hub | null = null
let now = 0
let sockets: FakeSocket[] = []

function startHub(options: Partial<HubOptions>) {
  now = Date.now()
  const started = startInProcessHub({ secret: SECRET, log: silentLogger, clock: { now: () => now }, ...options })
  sockets = started.opened
  hub = started.hub
  return hub
}

const upgrade = () => hub!.app.request('/ws', { headers: { upgrade: 'websocket' } })

afterEach(() => {
  hub?.close()
  hub = null
})

/** Identifies socket `i` as `agentId` and resolves once the hub said `identified`. */
async function identify(i: number, agentId: string) {
  sockets[i].send(JSON.stringify(identifyFrame(agentId, await signAgentToken(SECRET, agentId))))
  await waitUntil(() => {
    if (!sockets[i].sent.some((m) => m.type === 'identified') && sockets[i].closes.length === 0) throw new Error('not yet')
  })
}

const identifyFrame = (agent_id: string, token: string, extra: object = {}) =>
  ({ type: 'identify', agent_id, token, protocol_version: 1, pm2_info: null, supervised: true, ...extra })

describe('connection limits: identified agents and unidentified sockets apart', () => {
  it('opens exactly maxConnections identified sockets and answers the next upgrade 503 too_many_connections', async () => {
    startHub({ maxConnections: 3 })
    for (let i = 0; i < 3; i++) {
      expect((await upgrade()).status).toBe(200)
      await identify(i, `a-${i}`)
    }
    const refused = await upgrade()
    expect(refused.status).toBe(503)
    expect(await refused.json()).toEqual({ error: 'too_many_connections' })
    expect(sockets).toHaveLength(3)
  })

  it('does not count unidentified sockets against maxConnections', async () => {
    startHub({ maxConnections: 1, maxPending: 5 })
    for (let i = 0; i < 5; i++) expect((await upgrade()).status).toBe(200)
    await identify(0, 'agent')
    expect(sockets[0].sent).toEqual([{ type: 'identified', agent_id: 'agent' }])
  })

  it('closes with 1013 an identify past maxConnections, but lets an agent replace its own connection', async () => {
    startHub({ maxConnections: 1 })
    await upgrade()
    await upgrade()
    await upgrade()
    await identify(0, 'first')
    await identify(1, 'second')
    expect(sockets[1].sent).toEqual([{ type: 'error', error: 'too_many_connections' }])
    expect(sockets[1].closes).toEqual([CLOSE.TRY_AGAIN_LATER])
    await identify(2, 'first')
    expect(sockets[2].sent).toEqual([{ type: 'identified', agent_id: 'first' }])
  })

  it('past maxPending answers 503 too_many_pending and evicts the socket waiting longest (1013), so the next attempt gets in', async () => {
    startHub({ maxConnections: 10, maxPending: 2 })
    await upgrade()
    await upgrade()
    const refused = await upgrade()
    expect(refused.status).toBe(503)
    expect(await refused.json()).toEqual({ error: 'too_many_pending' })
    expect(sockets.map((s) => s.closes)).toEqual([[CLOSE.TRY_AGAIN_LATER], []])
    sockets[0].send('{"type":"ping"}')
    expect(sockets[0].sent).toEqual([]) // no longer part of the hub
    // The second attempt takes the freed slot and identifies: silent sockets never keep an agent out.
    expect((await upgrade()).status).toBe(200)
    await identify(2, 'agent')
    expect(sockets[2].sent).toEqual([{ type: 'identified', agent_id: 'agent' }])
    expect((await upgrade()).status).toBe(200)
    expect(sockets.map((s) => s.closes)).toEqual([[CLOSE.TRY_AGAIN_LATER], [], [], []])
  })

  it('never evicts a socket whose token is being checked: past maxPending of those, the upgrade is 503 and none gives way', async () => {
    startHub({ maxPending: 1 })
    await upgrade()
    // The token check (WebCrypto) is still under way when the next upgrade comes.
    sockets[0].send(JSON.stringify(identifyFrame('slow', await signAgentToken(SECRET, 'slow'))))
    expect((await upgrade()).status).toBe(503)
    expect(sockets[0].closes).toEqual([])
    await waitUntil(() => expect(sockets[0].sent).toEqual([{ type: 'identified', agent_id: 'slow' }]))
  })

  it('leaves a plain GET /ws alone', async () => {
    startHub({ maxConnections: 1 })
    await upgrade()
    expect((await hub!.app.request('/ws')).status).toBe(426)
  })
})

describe('before identified: one frame, the identify, at most 16 KiB', () => {
  /** An identify frame of exactly `bytes` bytes, padded with a field the hub ignores. */
  async function identifyOf(bytes: number) {
    const frame = JSON.stringify(identifyFrame('big', await signAgentToken(SECRET, 'big'), { pad: '' }))
    return frame.replace('"pad":""', `"pad":"${'x'.repeat(bytes - frame.length)}"`)
  }

  it('takes an identify of exactly 16 KiB and closes with 1009 on one byte more', async () => {
    startHub({})
    await upgrade()
    await upgrade()
    expect(MAX_IDENTIFY_BYTES).toBe(16 * 1024)
    sockets[0].send(await identifyOf(MAX_IDENTIFY_BYTES))
    await waitUntil(() => expect(sockets[0].sent).toEqual([{ type: 'identified', agent_id: 'big' }]))
    sockets[1].send(await identifyOf(MAX_IDENTIFY_BYTES + 1))
    expect(sockets[1].closes).toEqual([1009])
    expect(sockets[1].sent).toEqual([])
  })

  it.each([
    ['a ping', '{"type":"ping"}', { type: 'error', error: 'not_identified', detail: 'the first frame must be identify' }],
    ['a result', '{"type":"task_complete","task_id":"t","result":1}', { type: 'error', error: 'not_identified', detail: 'the first frame must be identify' }],
    ['bad JSON', '{"type":', { type: 'error', error: 'invalid_json', detail: 'frame is not valid JSON' }],
    ['an identify without a token', '{"type":"identify","agent_id":"a","protocol_version":1,"pm2_info":null,"supervised":true}',
      { type: 'error', error: 'invalid_message', detail: expect.stringMatching(/^token: /) }],
  ])('answers %s, then closes with 4008', async (_name, frame, reply) => {
    startHub({})
    await upgrade()
    sockets[0].send(frame)
    expect(sockets[0].sent).toEqual([reply])
    expect(sockets[0].closes).toEqual([CLOSE.IDENTIFY_TIMEOUT])
  })

  it('closes with 4008 a second frame sent before the identify was answered', async () => {
    startHub({})
    await upgrade()
    sockets[0].send(JSON.stringify(identifyFrame('eager', await signAgentToken(SECRET, 'eager'))))
    sockets[0].send('{"type":"ping"}')
    expect(sockets[0].closes).toEqual([CLOSE.IDENTIFY_TIMEOUT])
    // The identify in flight finds the socket gone and identifies no one.
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(sockets[0].sent).toEqual([])
    expect(hub!.fleet.get('eager')).toBeUndefined()
  })
})

describe('frame budget on a socket', () => {
  it('serves maxFramesPerS frames, refuses the next with rate_limited, closes 4029 at the limit-th refusal', async () => {
    startHub({ maxFramesPerS: 5 })
    await upgrade()
    await identify(0, 'a')
    const s = sockets[0]
    s.sent.length = 0
    for (let i = 0; i < 9; i++) s.send('{"type":"ping"}')
    expect(s.sent.map((m) => m.type === 'pong' ? 'pong' : m.error)).toEqual([...Array(5).fill('pong'), ...Array(4).fill('rate_limited')])
    expect(s.sent[5]).toEqual({ type: 'error', error: 'rate_limited' })
    expect(s.closes).toEqual([])
    s.send('{"type":"ping"}')
    expect(s.closes).toEqual([CLOSE.RATE_LIMITED])
    expect(s.sent).toHaveLength(9)
  })

  it('serves a sender that keeps to the rate, indefinitely', async () => {
    startHub({ maxFramesPerS: 5 })
    await upgrade()
    await identify(0, 'a')
    const s = sockets[0]
    for (let i = 0; i < 100; i++) {
      now += 200
      s.send('{"type":"ping"}')
    }
    expect(s.sent.filter((m) => m.error === 'rate_limited')).toEqual([])
    expect(s.closes).toEqual([])
  })

  it('keeps budgets apart: one socket\'s flood costs another nothing', async () => {
    startHub({ maxFramesPerS: 5 })
    await upgrade()
    await upgrade()
    await identify(0, 'a')
    await identify(1, 'b')
    for (let i = 0; i < 10; i++) sockets[0].send('{"type":"ping"}')
    sockets[1].send('{"type":"ping"}')
    expect(sockets[0].closes).toEqual([CLOSE.RATE_LIMITED])
    expect(sockets[1].sent.at(-1)).toEqual({ type: 'pong' })
  })
})

describe('unsent frames', () => {
  it('closes a socket with more than 1 MiB queued and not sent, and sends it nothing more', async () => {
    let unsent = 0
    startHub({ unsentBytes: () => unsent })
    await upgrade()
    await upgrade()
    await identify(0, 'reader')
    await identify(1, 'stuck')
    unsent = MAX_UNSENT_BYTES
    sockets[1].send('{"type":"ping"}')
    await Promise.resolve()
    expect(sockets[1].closes).toEqual([]) // at the limit, not over it
    unsent = MAX_UNSENT_BYTES + 1
    sockets[1].send('{"type":"ping"}')
    sockets[1].send('{"type":"ping"}')
    await waitUntil(() => expect(sockets[1].closes).toEqual([CLOSE.UNSENT_BACKLOG]))
    expect(sockets[1].sent.filter((m) => m.type === 'pong')).toHaveLength(2)
    expect(hub!.fleet.get('stuck')?.peer).toBeNull()
    expect(hub!.fleet.get('reader')?.peer).not.toBeNull()
  })
})

describe('frame size, checked by the hub itself', () => {
  const sizes = [
    ['a text frame', (n: number) => `"${'x'.repeat(n - 2)}"`],
    ['an ArrayBuffer', (n: number) => new ArrayBuffer(n)],
    ['a Uint8Array', (n: number) => new Uint8Array(n)],
    ['a Blob', (n: number) => new Blob([new Uint8Array(n)])],
  ] as const

  it.each(sizes)('answers %s of exactly 256 KiB without closing', async (_name, make) => {
    startHub({})
    await upgrade()
    await identify(0, 'a')
    sockets[0].sent.length = 0
    sockets[0].send(make(MAX_FRAME_BYTES))
    expect(sockets[0].closes).toEqual([])
    expect(sockets[0].sent).toHaveLength(1)
    expect(sockets[0].sent[0].type).toBe('error')
  })

  it.each(sizes)('closes with 1009 on %s of 256 KiB + 1 byte', async (_name, make) => {
    startHub({})
    await upgrade()
    await identify(0, 'a')
    sockets[0].sent.length = 0
    sockets[0].send(make(MAX_FRAME_BYTES + 1))
    expect(sockets[0].closes).toEqual([1009])
    expect(sockets[0].sent).toEqual([])
  })

  it('counts UTF-8 bytes, not characters', async () => {
    startHub({})
    await upgrade()
    await identify(0, 'a')
    // 87 382 three-byte characters: 262 146 bytes, though fewer than 256 Ki characters.
    sockets[0].send(`"${'€'.repeat(Math.ceil(MAX_FRAME_BYTES / 3))}"`)
    expect(sockets[0].closes).toEqual([1009])
  })
})

describe('bad frames the decoder chokes on', () => {
  it('answers a type nested too deep to describe with invalid_message', async () => {
    startHub({})
    await upgrade()
    await identify(0, 'a')
    sockets[0].sent.length = 0
    sockets[0].send(`{"type":${'['.repeat(100_000)}${']'.repeat(100_000)}}`)
    expect(sockets[0].sent).toEqual([{ type: 'error', error: 'invalid_message', detail: 'frame could not be decoded' }])
    expect(sockets[0].closes).toEqual([])
  })

  it('describes a huge bad field in at most 200 characters', async () => {
    startHub({})
    await upgrade()
    await identify(0, 'a')
    sockets[0].sent.length = 0
    const frame = { type: 'identify', agent_id: 'a', token: 't', protocol_version: 'x'.repeat(200_000), pm2_info: null, supervised: true }
    sockets[0].send(JSON.stringify(frame))
    const [reply] = sockets[0].sent
    expect(reply).toMatchObject({ type: 'error', error: 'invalid_message' })
    expect(reply.detail).toMatch(/^protocol_version: Invalid type: Expected 1 but received "x+\.\.\.$/)
    expect(reply.detail.length).toBe(203)
  })
})
