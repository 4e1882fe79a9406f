/**
 * Rollouts across the hubs of a cluster, with agents as real WebSocket clients that obey a
 * restart as a sidecar under pm2 does (agent_restarting, close 1012, come back with a higher
 * restart count) and come back on the other hub. Each agent is restarted exactly once, never
 * more than max_unavailable at a time; the rollout reads the same on every hub; and when its
 * owner hub dies, another hub carries it on.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { signAgentToken } from '../../hub/auth/auth.ts'
import type { TestDatabase } from '../../support/test-database.ts'
import { CLUSTER_SECRET, pm2Info, startClusterHub, useTwoClusterHubs, type TestHub } from '../../support/cluster-hubs.ts'
import { identifiedSocket, type TestSocket } from '../../support/ws-client.ts'
import { waitFor } from '../../support/wait.ts'

const LEASE_MS = 2000

let db: TestDatabase
let a: TestHub
let b: TestHub
const stops: Array<() => void> = []

useTwoClusterHubs(['ro-a', 'ro-b'], (hubs) => ({ db, a, b } = hubs), () => ({ leaseMs: LEASE_MS }))
afterEach(() => {
  for (const stop of stops.splice(0)) stop()
})

/** What the fake sidecars saw, across all of them. */
interface Ledger {
  /** agent id → restart ids it obeyed. */
  restarts: Map<string, string[]>
  down: number
  maxDown: number
}

/**
 * An agent that obeys restarts: it goes down, and after `downMs` identifies again, with a
 * higher restart count, on the next of `hubs` (so it moves between hubs as it restarts).
 */
async function sidecar(agentId: string, hubs: TestHub[], ledger: Ledger, downMs = 150): Promise<void> {
  const token = await signAgentToken(CLUSTER_SECRET, agentId)
  let restartCount = 0
  let turn = 0
  let stopped = false
  let socket: TestSocket | null = null
  stops.push(() => {
    stopped = true
    socket?.close()
  })
  const connect = async (): Promise<void> => {
    const hub = hubs[turn++ % hubs.length]
    socket = await identifiedSocket(hub.wsUrl, agentId, token, { pm2_info: pm2Info(restartCount, 1000 + restartCount) })
    void obey(socket)
  }
  const obey = async (s: TestSocket): Promise<void> => {
    const frame = await s.next('restart_sidecar', 60_000).catch(() => null)
    if (!frame || stopped) return
    ledger.restarts.set(agentId, [...(ledger.restarts.get(agentId) ?? []), frame.restart_id])
    ledger.down++
    ledger.maxDown = Math.max(ledger.maxDown, ledger.down)
    s.send({ type: 'agent_restarting', reason: frame.reason, restart_id: frame.restart_id })
    s.ws.close(1012)
    await s.closed
    await new Promise((resolve) => setTimeout(resolve, downMs)) // the process restarting
    restartCount++
    if (!stopped) await connect()
    // Back only once identified again: until then it counts as unavailable.
    ledger.down--
  }
  await connect()
}

/** Half start on A, half on B; each moves to the other hub when it restarts. */
async function startFleet(ids: string[], ledger: Ledger): Promise<void> {
  await Promise.all(ids.map((id, i) => sidecar(id, i % 2 === 0 ? [a, b] : [b, a], ledger)))
}

const newLedger = (): Ledger => ({ restarts: new Map(), down: 0, maxDown: 0 })

describe('rollouts across hubs', () => {
  it('restarts every agent once, in order, never more than max_unavailable at a time, on both hubs', async () => {
    const ledger = newLedger()
    const ids = ['ra-1', 'ra-2', 'ra-3', 'ra-4', 'ra-5']
    await startFleet(ids, ledger)
    const created = await a.api('POST', '/rollouts', { agent_ids: ids, max_unavailable: 2, reason: 'deploy' })
    expect(created).toMatchObject({ status: 201, body: { state: 'running', max_unavailable: 2, reason: 'deploy' } })
    expect(created.body.agents.map((x: any) => x.agent_id)).toEqual(ids)
    const id = created.body.rollout_id
    const done = await waitFor(() => b.api('GET', `/rollouts/${id}`), (r) => r.body.state !== 'running', { what: 'rollout over', timeoutMs: 30_000 })
    expect(done.body).toMatchObject({ state: 'completed', error: null })
    expect(done.body.agents.every((x: any) => x.state === 'completed')).toBe(true)
    expect((await a.api('GET', `/rollouts/${id}`)).body).toEqual(done.body)
    for (const agent of ids) {
      expect(ledger.restarts.get(agent)).toEqual([done.body.agents.find((x: any) => x.agent_id === agent).restart_id])
    }
    expect(ledger.maxDown).toBeLessThanOrEqual(2)
    expect(ledger.maxDown).toBeGreaterThanOrEqual(1)
  })

  it('answers 404 for an unknown agent or rollout and 409 for an agent not under pm2, from any hub', async () => {
    expect(await b.api('POST', '/rollouts', { agent_ids: ['nobody'] })).toEqual({ status: 404, body: { error: 'agent_not_found', agent_id: 'nobody' } })
    expect(await a.api('GET', '/rollouts/nope')).toEqual({ status: 404, body: { error: 'rollout_not_found' } })
    expect(await b.api('POST', '/rollouts/nope/cancel')).toEqual({ status: 404, body: { error: 'rollout_not_found' } })
    const unsupervised = await identifiedSocket(b.wsUrl, 'rb-u', await signAgentToken(CLUSTER_SECRET, 'rb-u'), { supervised: false })
    stops.push(() => unsupervised.close())
    await waitFor(() => a.api('GET', '/agents/rb-u'), (r) => r.body.connected === true, { what: 'rb-u' })
    expect(await a.api('POST', '/rollouts', { agent_ids: ['rb-u'] })).toEqual({ status: 409, body: { error: 'not_supervised', agent_id: 'rb-u' } })
  })

  it('a cancel on hub B stops the rollout hub A drives: restarts commanded finish, no new ones start', async () => {
    const ledger = newLedger()
    const ids = ['rc-1', 'rc-2', 'rc-3']
    await startFleet(ids, ledger)
    const id = (await a.api('POST', '/rollouts', { agent_ids: ids })).body.rollout_id
    const cancelled = await b.api('POST', `/rollouts/${id}/cancel`)
    expect(cancelled).toMatchObject({ status: 200, body: { rollout_id: id, state: 'cancelled' } })
    const first = cancelled.body.agents[0]
    await waitFor(() => a.api('GET', `/rollouts/${id}`), (r) => r.body.agents[0].state === 'completed', { what: 'first restart done' })
    // A tick of both hubs' sweeps (200 ms) has passed many times by the time the restart completed.
    const after = (await a.api('GET', `/rollouts/${id}`)).body
    expect(after.state).toBe('cancelled')
    expect(after.agents.slice(1).map((x: any) => x.state)).toEqual(['waiting', 'waiting'])
    expect([...ledger.restarts.keys()]).toEqual([first.agent_id])
  })

  it('when the owner hub dies mid-rollout, another hub takes it over and completes it, each agent restarted once', async () => {
    const c = await startClusterHub(db.url, 'ro-c', { leaseMs: LEASE_MS })
    try {
      const ledger = newLedger()
      const ids = ['rd-1', 'rd-2', 'rd-3']
      await startFleet(ids, ledger)
      const id = (await c.api('POST', '/rollouts', { agent_ids: ids, max_unavailable: 1 })).body.rollout_id
      await waitFor(() => a.api('GET', `/rollouts/${id}`), (r) => r.body.agents[0].restart_id !== null, { what: 'first commanded' })
      // Dies: no more lease renewals, so no more steps; it held none of the agents.
      await c.runtime.lease.stop()
      const done = await waitFor(() => a.api('GET', `/rollouts/${id}`), (r) => r.body.state !== 'running', { what: 'rollout over', timeoutMs: 30_000 })
      expect(done.body.state).toBe('completed')
      for (const agent of ids) expect(ledger.restarts.get(agent)?.length).toBe(1)
      expect([...ledger.restarts.keys()]).toEqual(ids)
      expect(ledger.maxDown).toBe(1)
      const [row] = await db.connect({ max: 1 })`SELECT owner_hub_id FROM rollouts WHERE rollout_id = ${id}`
      expect(['ro-a', 'ro-b']).toContain(row.owner_hub_id)
    } finally {
      await c.stop()
    }
  })
})
