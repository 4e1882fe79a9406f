/**
 * The fleet's alerts in cluster mode, with two hubs both configured to send and a real HTTP
 * receiver checking each signature with node:crypto: an agent gone from hub A alerts
 * `agent_offline` once, back on hub B `agent_recovered` once; a rollout whose agent does not
 * come back alerts `rollout_failed` once. One hub (the healing decider's) sends each.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { agentOn, useTwoClusterHubs, type TestHub } from '../../support/cluster-hubs.ts'
import { waitFor } from '../../support/wait.ts'

const WEBHOOK_SECRET = 'fleet-alerts-secret'

interface Delivery {
  body: any
  delivery: string
  verified: boolean
}

let a: TestHub
let b: TestHub
const deliveries: Delivery[] = []
const server = createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const raw = Buffer.concat(chunks)
    const expected = Buffer.from(`sha256=${createHmac('sha256', WEBHOOK_SECRET).update(raw).digest('hex')}`)
    const got = Buffer.from(String(req.headers['x-agentcom-signature-256'] ?? ''))
    deliveries.push({
      body: JSON.parse(raw.toString('utf8')), delivery: String(req.headers['x-agentcom-delivery']),
      verified: got.length === expected.length && timingSafeEqual(got, expected),
    })
    res.writeHead(204).end()
  })
})

// Registered before the hubs' own: the receiver listens before they start (their options read
// its port) and, hooks running as a stack, closes after they stop.
beforeAll(() => new Promise<void>((r) => server.listen(0, '127.0.0.1', r)))
afterAll(() => new Promise<void>((r) => server.close(() => r())))
useTwoClusterHubs(['fa-a', 'fa-b'], (hubs) => ({ a, b } = hubs), () => ({
  hub: {
    alertWebhookUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`, alertWebhookSecret: WEBHOOK_SECRET,
    alertOfflineMs: 1000, restartTimeoutMs: 2000,
  },
}))

const of = (agentId: string) => deliveries.filter((d) => d.body.agent_id === agentId)

describe('fleet alerts in a cluster', () => {
  it('agent_offline once when an agent has been gone the set time, agent_recovered once when it is back on another hub', async () => {
    const onA = await agentOn(a, 'fa-1')
    onA.close()
    await onA.closed
    await waitFor(async () => of('fa-1'), (d) => d.length >= 1, { what: 'agent_offline' })
    const back = await agentOn(b, 'fa-1')
    try {
      await waitFor(async () => of('fa-1'), (d) => d.some((x) => x.body.type === 'agent_recovered'), { what: 'agent_recovered' })
      expect(of('fa-1').map((d) => d.body)).toEqual([
        { type: 'agent_offline', agent_id: 'fa-1', detail: expect.stringMatching(/^offline for \d+ s$/), at: expect.any(Number) },
        { type: 'agent_recovered', agent_id: 'fa-1', detail: 'connected again', at: expect.any(Number) },
      ])
      expect(of('fa-1').every((d) => d.verified)).toBe(true)
      expect(new Set(of('fa-1').map((d) => d.delivery)).size).toBe(2)
    } finally {
      back.close()
    }
  })

  it('rollout_failed once for a rollout whose agent does not come back', async () => {
    const agent = await agentOn(a, 'fa-2')
    const created = await a.api('POST', '/rollouts', { agent_ids: ['fa-2'] })
    expect(created.status).toBe(201)
    expect(await agent.next('restart_sidecar')).toMatchObject({ type: 'restart_sidecar' })
    agent.close()
    const failed = (d: Delivery[]) => d.filter((x) => x.body.type === 'rollout_failed' && x.body.rollout_id === created.body.rollout_id)
    await waitFor(async () => deliveries, (d) => failed(d).length >= 1, { what: 'rollout_failed', timeoutMs: 30_000 })
    expect((await b.api('GET', `/rollouts/${created.body.rollout_id}`)).body.state).toBe('failed')
    // The offline alert of the same agent comes after its restart failed: by then the rollout
    // alert has been claimed for good, and no second one may follow.
    await waitFor(async () => of('fa-2'), (d) => d.some((x) => x.body.type === 'agent_offline'), { what: 'agent_offline of fa-2', timeoutMs: 30_000 })
    expect(failed(deliveries)).toEqual([expect.objectContaining({
      verified: true, body: { type: 'rollout_failed', rollout_id: created.body.rollout_id, agent_id: 'fa-2', detail: expect.any(String), at: expect.any(Number) },
    })])
  })
})
