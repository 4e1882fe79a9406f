/**
 * What survives a hub restart, the same on both stores: a single hub started again on its data
 * dir, or another hub of the cluster on the same database. Restarts, rollouts (a running one
 * goes on), quarantines, healing's history and paused flag, and its budget.
 */
import { describe, expect, it } from 'vitest'
import { pm2Info } from '../../support/cluster-hubs.ts'
import { STORE, useStoreHubs, type StoreHub } from '../../support/store-hub.ts'
import type { TestSocket } from '../../support/ws-client.ts'
import { waitFor } from '../../support/wait.ts'

const hubs = useStoreHubs()
const MB = 1024 * 1024

/** The sidecar's side of a restart: says so, closes, comes back as the next pm2 process. */
async function obey(hub: StoreHub, socket: TestSocket, agentId: string, restarts = 1): Promise<TestSocket> {
  const frame = await socket.next('restart_sidecar')
  socket.send({ type: 'agent_restarting', reason: frame.reason, restart_id: frame.restart_id })
  socket.close()
  await socket.closed
  return hub.agent(agentId, { pm2_info: pm2Info(restarts, 100 + restarts) })
}

function agentWhere(hub: StoreHub, agentId: string, accept: (a: any) => boolean, what: string) {
  return waitFor(() => hub.api('GET', `/agents/${agentId}`), (r) => accept(r.body), { what, timeoutMs: 15_000 }).then((r) => r.body)
}

describe(`a hub restart on the ${STORE} store`, () => {
  it('keeps a completed restart, the quarantine and the healing history and paused flag', async () => {
    const hub = await hubs.start({ hub: { healing: { crashLimit: 2 } } })
    const r1 = await hub.agent('r1')
    const restart = (await hub.api('POST', '/agents/r1/restart', { reason: 'keep me' })).body
    await obey(hub, r1, 'r1')
    await agentWhere(hub, 'r1', (a) => a.restart?.state === 'completed', 'restart completed')
    for (let restarts = 0; restarts <= 2; restarts++) {
      const q = await hub.agent('q1', { pm2_info: pm2Info(restarts, 100 + restarts) })
      q.close()
      await agentWhere(hub, 'q1', (a) => a.connected === false, 'q1 offline')
    }
    await agentWhere(hub, 'q1', (a) => a.quarantined === true, 'quarantined')
    await hub.api('POST', '/healing/pause')
    const healing = (await hub.api('GET', '/healing')).body

    await hub.restart()

    expect(await agentWhere(hub, 'r1', (a) => a.restart !== null, 'r1 known')).toMatchObject({
      connected: false, restart: { restart_id: restart.restart_id, reason: 'keep me', state: 'completed' },
    })
    expect(await agentWhere(hub, 'q1', () => true, 'q1 known')).toMatchObject({ quarantined: true, drained: true })
    expect((await hub.api('GET', '/healing')).body).toEqual(healing)
    expect(healing).toMatchObject({ paused: true, actions: [{ agent_id: 'q1', action: 'quarantine', state: 'quarantined' }] })
    // Still quarantined when it comes back: no task for it until an operator resumes it.
    const q1 = await hub.agent('q1', { pm2_info: pm2Info(2, 102) })
    const created = (await hub.api('POST', '/tasks', { input: 1 })).body
    await expect(q1.next('task_assign', 300)).rejects.toThrow(/no task_assign/)
    expect((await hub.api('POST', '/agents/q1/resume')).body).toMatchObject({ quarantined: false })
    expect((await q1.next('task_assign', 5000)).task_id).toBe(created.task_id)
  })

  it("keeps healing's budget: an agent at its per-agent limit is escalated, not restarted, after the hub restart", async () => {
    const hub = await hubs.start({ hub: { healing: { maxMemoryMb: 100, maxPerAgent: 1, cooldownS: 0 } } })
    const overLimit = (socket: TestSocket) => {
      for (let n = 0; n < 2; n++) socket.send({ type: 'stats', rss_bytes: 200 * MB, heap_used_bytes: MB, event_loop_delay_ms: 0, uptime_ms: 1000 })
    }
    const b1 = await hub.agent('b1')
    overLimit(b1)
    await obey(hub, b1, 'b1')
    const actions = () => hub.api('GET', '/healing').then((r) => r.body.actions)
    await waitFor(actions, (a) => a[0]?.state === 'completed', { what: 'the healing restart completed' })

    await hub.restart()

    const back = await hub.agent('b1', { pm2_info: pm2Info(1, 101) })
    overLimit(back)
    const escalated = await waitFor(actions, (a) => a.some((x: any) => x.action === 'escalate'), { what: 'the escalation', timeoutMs: 15_000 })
    expect(escalated.map((x: any) => [x.action, x.rule])).toEqual([['escalate', 'memory'], ['restart', 'memory']])
    await expect(back.next('restart_sidecar', 300)).rejects.toThrow(/no restart_sidecar/)
  })

  it('keeps the crash count and the pm2 baseline: two crashes before the hub restart and one after quarantine', async () => {
    const hub = await hubs.start({ hub: { healing: { crashLimit: 3 } } })
    for (let restarts = 0; restarts <= 2; restarts++) {
      const c1 = await hub.agent('c1', { pm2_info: pm2Info(restarts, 100 + restarts) })
      c1.close()
      await agentWhere(hub, 'c1', (a) => a.connected === false, 'c1 offline')
    }
    expect((await hub.api('GET', '/agents/c1')).body).toMatchObject({ quarantined: false })

    await hub.restart()

    // The same process back is no restart; the next one is the third crash within the window.
    const same = await hub.agent('c1', { pm2_info: pm2Info(2, 102) })
    same.close()
    await agentWhere(hub, 'c1', (a) => a.connected === false, 'c1 offline again')
    expect((await hub.api('GET', '/agents/c1')).body).toMatchObject({ quarantined: false })
    await hub.agent('c1', { pm2_info: pm2Info(3, 103) })
    await agentWhere(hub, 'c1', (a) => a.quarantined === true, 'c1 quarantined')
    const { actions } = (await hub.api('GET', '/healing')).body
    expect(actions.map((a: any) => [a.agent_id, a.action, a.detail])).toEqual([['c1', 'quarantine', '3 unplanned restarts within 600 s']])
  })

  it('goes on with a pending restart and a running rollout', async () => {
    const hub = await hubs.start()
    const p1 = await hub.agent('p1')
    await hub.agent('r2')
    const r3 = await hub.agent('r3')
    const pending = (await hub.api('POST', '/agents/p1/restart', {})).body
    await p1.next('restart_sidecar')
    const rollout = (await hub.api('POST', '/rollouts', { agent_ids: ['r2', 'r3'], max_unavailable: 1 })).body
    await waitFor(() => hub.api('GET', `/rollouts/${rollout.rollout_id}`), (r) => r.body.agents[0].state === 'commanded', { what: 'r2 commanded' })
    void r3

    await hub.restart()

    // Both agents come back as new processes (their restarts happened while no hub held them).
    await hub.agent('p1', { pm2_info: pm2Info(1, 101) })
    expect(await agentWhere(hub, 'p1', (a) => a.restart?.state === 'completed', 'p1 restart completed'))
      .toMatchObject({ restart: { restart_id: pending.restart_id } })
    await hub.agent('r2', { pm2_info: pm2Info(1, 101) })
    const back3 = await hub.agent('r3')
    await obey(hub, back3, 'r3')
    const done = await waitFor(() => hub.api('GET', `/rollouts/${rollout.rollout_id}`), (r) => r.body.state === 'completed', { what: 'rollout completed', timeoutMs: 15_000 })
    expect(done.body.agents.map((a: any) => a.state)).toEqual(['completed', 'completed'])
  })

  it('keeps what it acknowledged, even when killed right after the answer: a restart, a drain, a resume', async () => {
    const hub = await hubs.start()
    const a1 = await hub.agent('a1')
    await hub.agent('d1')
    await hub.agent('d2')
    // A change saved just before: one hub spaces its saves, so the next change would wait out the spacing.
    await hub.api('POST', '/agents/d1/drain')
    const restart = await hub.api('POST', '/agents/a1/restart', { reason: 'acknowledged' })
    expect(restart.status).toBe(200)
    await a1.next('restart_sidecar')
    expect((await hub.api('POST', '/agents/d2/drain')).status).toBe(200)
    expect((await hub.api('POST', '/agents/d1/resume')).status).toBe(200)

    await hub.crash()

    expect((await hub.api('GET', '/agents/a1')).body).toMatchObject({ restart: { restart_id: restart.body.restart_id, reason: 'acknowledged' } })
    expect((await hub.api('GET', '/agents/d2')).body).toMatchObject({ drained: true })
    // Resumed, it has nothing left to keep: a single hub forgets it (404), a cluster keeps its row; neither drains it.
    expect((await hub.api('GET', '/agents/d1')).body.drained ?? false).toBe(false)
  })
})
