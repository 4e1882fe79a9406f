/**
 * Rollouts, the same on both stores: each agent restarted once, never more than
 * max_unavailable at a time, a failure stops the rest, and cancel stops it.
 */
import { describe, expect, it } from 'vitest'
import { pm2Info } from '../../support/cluster-hubs.ts'
import { STORE, useStoreHubs, type StoreHub } from '../../support/store-hub.ts'
import type { TestSocket } from '../../support/ws-client.ts'
import { waitFor } from '../../support/wait.ts'

const hubs = useStoreHubs()

function rolloutState(hub: StoreHub, rolloutId: string, state: string) {
  return waitFor(() => hub.api('GET', `/rollouts/${rolloutId}`), (r) => r.body.state === state, { what: `rollout ${state}`, timeoutMs: 15_000 })
    .then((r) => r.body)
}

/** The agent obeys its restart_sidecar: says so, closes, and comes back as a new pm2 process. */
async function obey(hub: StoreHub, agent: TestSocket, agentId: string): Promise<TestSocket> {
  const frame = await agent.next('restart_sidecar')
  agent.send({ type: 'agent_restarting', reason: frame.reason, restart_id: frame.restart_id })
  agent.close()
  await agent.closed
  return hub.agent(agentId, { pm2_info: pm2Info(1, 101) })
}

/** The agent closes its socket and the hub shows it offline. */
async function offline(hub: StoreHub, agent: TestSocket, agentId: string): Promise<void> {
  agent.close()
  await agent.closed
  await waitFor(() => hub.api('GET', `/agents/${agentId}`), (r) => r.body.status === 'offline', { what: `${agentId} offline` })
}

describe(`rollouts on the ${STORE} store`, () => {
  it('restarts each agent once, one at a time with max_unavailable 1, and completes', async () => {
    const hub = await hubs.start()
    const a = await hub.agent('r1')
    const b = await hub.agent('r2')
    const res = await hub.api('POST', '/rollouts', { agent_ids: ['r1', 'r2'], max_unavailable: 1, reason: 'upgrade' })
    expect(res).toMatchObject({ status: 201, body: { state: 'running', reason: 'upgrade', max_unavailable: 1 } })
    expect(res.body.agents.map((x: any) => x.agent_id)).toEqual(['r1', 'r2'])
    const rolloutId = res.body.rollout_id
    // r2 waits while r1 is restarting.
    await expect(b.next('restart_sidecar', 300)).rejects.toThrow(/no restart_sidecar/)
    const a2 = await obey(hub, a, 'r1')
    await obey(hub, b, 'r2')
    const done = await rolloutState(hub, rolloutId, 'completed')
    expect(done.agents).toEqual([
      expect.objectContaining({ agent_id: 'r1', state: 'completed' }),
      expect.objectContaining({ agent_id: 'r2', state: 'completed' }),
    ])
    await expect(a2.next('restart_sidecar', 200)).rejects.toThrow(/no restart_sidecar/)
  })

  it('fails when an agent does not come back, and restarts no one after it', async () => {
    const hub = await hubs.start({ hub: { restartTimeoutMs: 300 } })
    const a = await hub.agent('r1')
    const b = await hub.agent('r2')
    const res = await hub.api('POST', '/rollouts', { agent_ids: ['r1', 'r2'] })
    const frame = await a.next('restart_sidecar')
    a.send({ type: 'agent_restarting', reason: frame.reason, restart_id: frame.restart_id })
    a.close()
    const failed = await rolloutState(hub, res.body.rollout_id, 'failed')
    expect(failed.agents[0]).toMatchObject({ agent_id: 'r1', state: 'failed' })
    expect(failed.agents[1]).toMatchObject({ agent_id: 'r2', state: 'waiting' })
    await expect(b.next('restart_sidecar', 300)).rejects.toThrow(/no restart_sidecar/)
  })

  it('cancel stops a rollout: the agents not yet restarted are left alone', async () => {
    const hub = await hubs.start()
    const a = await hub.agent('r1')
    const b = await hub.agent('r2')
    const res = await hub.api('POST', '/rollouts', { agent_ids: ['r1', 'r2'] })
    await a.next('restart_sidecar')
    const cancelled = await hub.api('POST', `/rollouts/${res.body.rollout_id}/cancel`)
    expect(cancelled).toMatchObject({ status: 200, body: { state: 'cancelled' } })
    await expect(b.next('restart_sidecar', 300)).rejects.toThrow(/no restart_sidecar/)
    expect((await hub.api('GET', `/rollouts/${res.body.rollout_id}`)).body.state).toBe('cancelled')
  })

  it('never has more than max_unavailable agents restarting: the next starts when one is back', async () => {
    const hub = await hubs.start()
    const a = await hub.agent('r1')
    const b = await hub.agent('r2')
    const c = await hub.agent('r3')
    const res = await hub.api('POST', '/rollouts', { agent_ids: ['r1', 'r2', 'r3'], max_unavailable: 2 })
    expect(res.body.agents.map((x: any) => x.state)).toEqual(['commanded', 'commanded', 'waiting'])
    await expect(c.next('restart_sidecar', 300)).rejects.toThrow(/no restart_sidecar/)
    await obey(hub, a, 'r1')
    await obey(hub, c, 'r3')
    await obey(hub, b, 'r2')
    const done = await rolloutState(hub, res.body.rollout_id, 'completed')
    expect(done.agents.map((x: any) => x.state)).toEqual(['completed', 'completed', 'completed'])
  })

  it('waits, in order, for an agent offline at its turn, and goes on when it is back', async () => {
    const hub = await hubs.start({ hub: { restartTimeoutMs: 10_000 } })
    const a = await hub.agent('r1')
    await offline(hub, await hub.agent('r2'), 'r2')
    const res = await hub.api('POST', '/rollouts', { agent_ids: ['r2', 'r1'] })
    expect(res.body.agents.map((x: any) => x.state)).toEqual(['waiting', 'waiting'])
    // r1 comes after r2: it waits too.
    await expect(a.next('restart_sidecar', 500)).rejects.toThrow(/no restart_sidecar/)
    expect((await hub.api('GET', `/rollouts/${res.body.rollout_id}`)).body.state).toBe('running')
    await obey(hub, await hub.agent('r2'), 'r2')
    await obey(hub, a, 'r1')
    await rolloutState(hub, res.body.rollout_id, 'completed')
  })

  it('fails when the agent offline at its turn is not back within the restart timeout', async () => {
    const hub = await hubs.start({ hub: { restartTimeoutMs: 500 } })
    const a = await hub.agent('r1')
    await offline(hub, await hub.agent('r2'), 'r2')
    const res = await hub.api('POST', '/rollouts', { agent_ids: ['r2', 'r1'] })
    const failed = await rolloutState(hub, res.body.rollout_id, 'failed')
    expect(failed).toMatchObject({ error: 'agent r2 was not connected at its turn' })
    expect(failed.agents).toEqual([
      { agent_id: 'r2', state: 'failed', restart_id: null, error: 'agent_not_connected' },
      { agent_id: 'r1', state: 'waiting', restart_id: null },
    ])
    await expect(a.next('restart_sidecar', 300)).rejects.toThrow(/no restart_sidecar/)
  })

  it('refuses a rollout of an unknown agent (404) and answers 404 for an unknown rollout', async () => {
    const hub = await hubs.start()
    await hub.agent('r1')
    expect(await hub.api('POST', '/rollouts', { agent_ids: ['r1', 'ghost'] })).toMatchObject({ status: 404, body: { agent_id: 'ghost' } })
    expect(await hub.api('GET', '/rollouts/nope')).toEqual({ status: 404, body: { error: 'rollout_not_found' } })
    expect(await hub.api('POST', '/rollouts', { agent_ids: ['r1', 'r1'] })).toMatchObject({ status: 400, body: { error: 'invalid_request' } })
  })
})
