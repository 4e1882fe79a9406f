/**
 * Healing, the same on both stores: the crash-loop rule quarantines, an operator's resume
 * lifts it; the memory rule restarts within the budget (max_concurrent), and a memory restart
 * the budget or a pause refused is asked again by the agent's next report, never retried on its
 * own; pause holds every action until resume (crashes still count); the cooldown, a running
 * rollout and the restarts in flight hold a restart back, and an overdue task's force restart
 * waits for them (never dropped); a healing restart that times out is recorded failed. Settings
 * are small so nothing waits long.
 */
import { describe, expect, it } from 'vitest'
import { pm2Info } from '../../support/cluster-hubs.ts'
import { STORE, useStoreHubs, type StoreHub } from '../../support/store-hub.ts'
import type { TestSocket } from '../../support/ws-client.ts'
import { waitFor } from '../../support/wait.ts'

const hubs = useStoreHubs()
const MB = 1024 * 1024

const healing = async (hub: StoreHub) => (await hub.api('GET', '/healing')).body

function actionOf(hub: StoreHub, accept: (a: any) => boolean, what: string) {
  return waitFor(() => healing(hub), (h) => h.actions.some(accept), { what, timeoutMs: 15_000 })
    .then((h) => h.actions.find(accept))
}

/** The sidecar's own stats report, at `rssMb`. */
function reportMemory(agent: TestSocket, rssMb: number): void {
  agent.send({ type: 'stats', rss_bytes: rssMb * MB, heap_used_bytes: MB, event_loop_delay_ms: 0, uptime_ms: 1000 })
}

/** Reports memory above the limit until the agent is told to restart (a refused memory restart is asked again by the next report). */
function untilRestarted(agent: TestSocket): Promise<any> {
  return waitFor(async () => {
    reportMemory(agent, 200)
    return agent.next('restart_sidecar', 250).catch(() => null)
  }, Boolean, { what: 'a healing restart', timeoutMs: 10_000 })
}

/** The agent obeys its restart_sidecar: says so, closes, and comes back as a new pm2 process. */
async function obey(hub: StoreHub, agent: TestSocket, agentId: string, frame: any, restarts = 1): Promise<TestSocket> {
  agent.send({ type: 'agent_restarting', reason: frame.reason, restart_id: frame.restart_id })
  agent.close()
  await agent.closed
  return hub.agent(agentId, { pm2_info: pm2Info(restarts, 100 + restarts) })
}

/** The process crashed and pm2 started it again: the same agent back with a higher restart count. */
async function crashAndReturn(hub: StoreHub, agent: TestSocket, agentId: string, restarts: number): Promise<TestSocket> {
  agent.close()
  await agent.closed
  await waitFor(() => hub.api('GET', `/agents/${agentId}`), (r) => r.body.connected === false, { what: 'agent offline' })
  return hub.agent(agentId, { pm2_info: pm2Info(restarts, 100 + restarts) })
}

describe(`healing on the ${STORE} store`, () => {
  it('quarantines an agent in a crash loop, gives it no task, and an operator resume lifts it', async () => {
    const hub = await hubs.start({ hub: { healing: { crashLimit: 2 } } })
    let agent = await hub.agent('h1')
    agent = await crashAndReturn(hub, agent, 'h1', 1)
    agent = await crashAndReturn(hub, agent, 'h1', 2)
    const action = await actionOf(hub, (a) => a.action === 'quarantine' && a.agent_id === 'h1', 'the quarantine')
    expect(action).toMatchObject({ rule: 'crash_loop', state: 'quarantined', restart_id: null })
    await waitFor(() => hub.api('GET', '/agents/h1'), (r) => r.body.quarantined === true, { what: 'quarantined' })
    const created = await hub.api('POST', '/tasks', { input: 1 })
    await expect(agent.next('task_assign', 300)).rejects.toThrow(/no task_assign/)
    const resumed = await hub.api('POST', '/agents/h1/resume')
    expect(resumed).toMatchObject({ status: 200, body: { quarantined: false } })
    expect((await agent.next('task_assign', 5000)).task_id).toBe(created.body.task_id)
    await actionOf(hub, (a) => a.action_id === action.action_id && a.state === 'lifted', 'the quarantine lifted')
  })

  it('restarts an agent over the memory limit, one at a time within max_concurrent', async () => {
    const hub = await hubs.start({ hub: { healing: { maxMemoryMb: 100, maxConcurrent: 1, cooldownS: 0 } } })
    const a = await hub.agent('m1')
    const b = await hub.agent('m2')
    for (const agent of [a, b]) {
      reportMemory(agent, 200)
      reportMemory(agent, 200)
    }
    const first = await actionOf(hub, (x) => x.rule === 'memory' && x.action === 'restart', 'a memory restart')
    const [restarted, waiting] = first.agent_id === 'm1' ? [a, b] : [b, a]
    const frame = await restarted.next('restart_sidecar')
    expect(frame).toMatchObject({ reason: 'heal:memory', mode: 'graceful' })
    // The budget allows one healing restart in flight: the other agent waits.
    await expect(waiting.next('restart_sidecar', 500)).rejects.toThrow(/no restart_sidecar/)
    restarted.send({ type: 'agent_restarting', reason: frame.reason, restart_id: frame.restart_id })
    restarted.close()
    await hub.agent(first.agent_id, { pm2_info: pm2Info(1, 101) })
    await actionOf(hub, (x) => x.action_id === first.action_id && x.state === 'completed', 'the first restart completed')
    // A refused memory restart does not wait in line (docs/healing.md): the budget is free now,
    // yet nothing happens until the agent's next report above the limit asks again.
    await expect(waiting.next('restart_sidecar', 500)).rejects.toThrow(/no restart_sidecar/)
    reportMemory(waiting, 200)
    expect(await waiting.next('restart_sidecar', 10_000)).toMatchObject({ reason: 'heal:memory' })
  })

  it('past max_per_agent in the window, escalates once instead of restarting', async () => {
    const hub = await hubs.start({ hub: { healing: { maxMemoryMb: 100, maxPerAgent: 1, cooldownS: 0 } } })
    let agent = await hub.agent('e1')
    reportMemory(agent, 200)
    reportMemory(agent, 200)
    const frame = await agent.next('restart_sidecar')
    agent.send({ type: 'agent_restarting', reason: frame.reason, restart_id: frame.restart_id })
    agent.close()
    agent = await hub.agent('e1', { pm2_info: pm2Info(1, 101) })
    await actionOf(hub, (x) => x.restart_id === frame.restart_id && x.state === 'completed', 'the restart completed')
    for (let n = 0; n < 4; n++) reportMemory(agent, 200)
    const escalated = await actionOf(hub, (x) => x.action === 'escalate', 'the escalation')
    expect(escalated).toMatchObject({ agent_id: 'e1', rule: 'memory', state: 'alerted', restart_id: null })
    await expect(agent.next('restart_sidecar', 500)).rejects.toThrow(/no restart_sidecar/)
    const actions = (await healing(hub)).actions
    expect(actions.filter((x: any) => x.action === 'escalate')).toHaveLength(1)
    expect(actions.filter((x: any) => x.action === 'restart')).toHaveLength(1)
  })

  it('pause holds healing; resume lets it act', async () => {
    const hub = await hubs.start({ hub: { healing: { maxMemoryMb: 100 } } })
    expect(await hub.api('POST', '/healing/pause')).toMatchObject({ status: 200, body: { paused: true } })
    const agent = await hub.agent('p1')
    reportMemory(agent, 200)
    reportMemory(agent, 200)
    await expect(agent.next('restart_sidecar', 500)).rejects.toThrow(/no restart_sidecar/)
    expect((await healing(hub)).actions).toEqual([])
    expect(await hub.api('POST', '/healing/resume')).toMatchObject({ status: 200, body: { paused: false } })
    // What was refused while paused is not remembered: the agent's next report above asks again.
    await expect(agent.next('restart_sidecar', 500)).rejects.toThrow(/no restart_sidecar/)
    reportMemory(agent, 200)
    expect(await agent.next('restart_sidecar', 10_000)).toMatchObject({ reason: 'heal:memory' })
  })

  it('no healing restart of an agent within cooldown_s of the end of its last one', async () => {
    const hub = await hubs.start({ hub: { healing: { maxMemoryMb: 100, cooldownS: 2 } } })
    let agent = await hub.agent('c1')
    reportMemory(agent, 200)
    reportMemory(agent, 200)
    agent = await obey(hub, agent, 'c1', await agent.next('restart_sidecar'))
    const first = await actionOf(hub, (x) => x.rule === 'memory' && x.state === 'completed', 'the first restart completed')
    reportMemory(agent, 200)
    reportMemory(agent, 200)
    await expect(agent.next('restart_sidecar', 500)).rejects.toThrow(/no restart_sidecar/)
    // Asked again by each report above the limit: started once the cooldown has passed.
    const frame = await untilRestarted(agent)
    expect(frame).toMatchObject({ reason: 'heal:memory', mode: 'graceful' })
    const second = await actionOf(hub, (x) => x.restart_id === frame.restart_id, 'the second restart')
    expect(second.at - first.updated_at).toBeGreaterThanOrEqual(2000)
  })

  it('no healing restart starts while a rollout runs; it starts once the rollout is over', async () => {
    const hub = await hubs.start({ hub: { healing: { maxMemoryMb: 100, cooldownS: 0 } } })
    const hungry = await hub.agent('w1')
    let rolled = await hub.agent('w2')
    const rollout = await hub.api('POST', '/rollouts', { agent_ids: ['w2'], max_unavailable: 1, reason: 'upgrade' })
    expect(rollout.status).toBe(201)
    const rolloutFrame = await rolled.next('restart_sidecar')
    reportMemory(hungry, 200)
    reportMemory(hungry, 200)
    await expect(hungry.next('restart_sidecar', 500)).rejects.toThrow(/no restart_sidecar/)
    expect((await healing(hub)).actions).toEqual([])
    rolled = await obey(hub, rolled, 'w2', rolloutFrame)
    await waitFor(() => hub.api('GET', `/rollouts/${rollout.body.rollout_id}`), (r) => r.body.state === 'completed', { what: 'the rollout over' })
    // Healing follows the rollout as announced (one hub: once its end is saved); each report above asks again.
    expect(await untilRestarted(hungry)).toMatchObject({ reason: 'heal:memory' })
  })

  it("an overdue task's force restart waits for the budget, is never dropped, and starts once it allows", async () => {
    const hub = await hubs.start({ hub: { healing: { maxMemoryMb: 100, maxConcurrent: 1, cooldownS: 0 } } })
    let hungry = await hub.agent('o1')
    const stuck = await hub.agent('o2')
    reportMemory(hungry, 200)
    reportMemory(hungry, 200)
    const memoryFrame = await hungry.next('restart_sidecar')
    // The one healing restart in flight is o1's: o2's task goes overdue meanwhile.
    const task = (await hub.api('POST', '/tasks', { input: {}, agent_id: 'o2', timeout_ms: 300 })).body
    const assign = await stuck.next('task_assign')
    stuck.send({ type: 'task_accepted', task_id: assign.task_id })
    await stuck.next('task_cancel', 5000)
    await expect(stuck.next('restart_sidecar', 700)).rejects.toThrow(/no restart_sidecar/)
    expect((await healing(hub)).actions.filter((x: any) => x.rule === 'task_overdue')).toEqual([])
    hungry = await obey(hub, hungry, 'o1', memoryFrame)
    const frame = await stuck.next('restart_sidecar', 10_000)
    expect(frame).toMatchObject({ reason: 'task_overdue', mode: 'force' })
    const action = await actionOf(hub, (x) => x.restart_id === frame.restart_id, 'the overdue restart')
    expect(action).toMatchObject({ agent_id: 'o2', rule: 'task_overdue', action: 'restart', detail: expect.stringContaining(task.task_id) })
  })

  it('a healing restart whose agent does not come back in time fails, and says why', async () => {
    const hub = await hubs.start({ hub: { healing: { maxMemoryMb: 100 }, restartTimeoutMs: 1000 } })
    const agent = await hub.agent('f1')
    reportMemory(agent, 200)
    reportMemory(agent, 200)
    const frame = await agent.next('restart_sidecar')
    agent.send({ type: 'agent_restarting', reason: frame.reason, restart_id: frame.restart_id })
    agent.close()
    const failed = await actionOf(hub, (x) => x.restart_id === frame.restart_id && x.state === 'failed', 'the restart failed')
    expect(failed).toMatchObject({ agent_id: 'f1', rule: 'memory', action: 'restart', detail: expect.stringContaining('; restart failed') })
  })

  it('while paused, crashes are counted but quarantine nobody; after resume the next crash does', async () => {
    const hub = await hubs.start({ hub: { healing: { crashLimit: 2 } } })
    await hub.api('POST', '/healing/pause')
    let agent = await hub.agent('q1')
    agent = await crashAndReturn(hub, agent, 'q1', 1)
    agent = await crashAndReturn(hub, agent, 'q1', 2)
    expect((await hub.api('GET', '/agents/q1')).body.quarantined).toBe(false)
    expect((await healing(hub)).actions).toEqual([])
    await hub.api('POST', '/healing/resume')
    agent = await crashAndReturn(hub, agent, 'q1', 3)
    await actionOf(hub, (x) => x.action === 'quarantine' && x.agent_id === 'q1', 'the quarantine')
    await waitFor(() => hub.api('GET', '/agents/q1'), (r) => r.body.quarantined === true, { what: 'quarantined' })
  })

  it('an agent whose restart is already pending gets no healing restart on top; asked again once it is back', async () => {
    const hub = await hubs.start({ hub: { healing: { maxMemoryMb: 100, cooldownS: 0 } } })
    let agent = await hub.agent('a1')
    const operator = (await hub.api('POST', '/agents/a1/restart', { reason: 'upgrade' })).body
    const frame = await agent.next('restart_sidecar')
    expect(frame.restart_id).toBe(operator.restart_id)
    reportMemory(agent, 200)
    reportMemory(agent, 200)
    await expect(agent.next('restart_sidecar', 500)).rejects.toThrow(/no restart_sidecar/)
    // Its pending restart brings a new process anyway: no healing action follows it.
    expect((await healing(hub)).actions).toEqual([])
    agent = await obey(hub, agent, 'a1', frame)
    expect(await untilRestarted(agent)).toMatchObject({ reason: 'heal:memory' })
    const actions = (await healing(hub)).actions
    expect(actions).toHaveLength(1)
    expect(actions[0].restart_id).not.toBe(operator.restart_id)
  })
})
