/**
 * Two hubs in one process sharing one PostgreSQL database, each with real WebSocket clients as
 * sidecars: presence and views from every hub, commands carried across hubs, tasks claimed
 * once, and what happens when a hub's lease runs out.
 */
import { describe, expect, it } from 'vitest'
import type { TestDatabase } from '../../support/test-database.ts'
import { agentOn, pm2Info, startClusterHub, useTwoClusterHubs, type TestHub } from '../../support/cluster-hubs.ts'
import type { TestSocket } from '../../support/ws-client.ts'
import { waitFor } from '../../support/wait.ts'
import { PgTaskStore } from '../../hub/pg/pg-task-store.ts'

const LEASE_MS = 3000

let db: TestDatabase

const startHub = (id: string) => startClusterHub(db.url, id, { leaseMs: LEASE_MS })
const stopHub = (hub: TestHub) => hub.stop()

async function agentSocket(hub: TestHub, agentId: string, extra: Record<string, unknown> = {}): Promise<TestSocket> {
  const socket = await agentOn(hub, agentId, extra)
  sockets.push(socket)
  return socket
}

let a: TestHub
let b: TestHub

const sockets = useTwoClusterHubs(['hub-a', 'hub-b'], (hubs) => ({ db, a, b } = hubs), () => ({ leaseMs: LEASE_MS }))

// last_seen moves with every sweep (each 200 ms here); everything else must match across hubs.
const steady = ({ last_seen: _, ...rest }: any) => rest
const settled = (body: any) => ({ ...body, agents: body.agents.map(steady) })

const view = (hub: TestHub, agentId: string) => hub.api('GET', `/agents/${agentId}`).then((r) => r.body)

describe('two hubs, one fleet', () => {
  it('builds none of one hub\'s owners: healing\'s one-hub part, alerts and saves are the cluster\'s rows', () => {
    const { localHealing, alertEpisodes, fleetState } = a.running.hub
    expect({ localHealing, alertEpisodes, fleetState }).toEqual({ localHealing: null, alertEpisodes: null, fleetState: null })
    // Healing is the one runtime of both modes, over the rows: the one the cluster steps.
    expect(a.running.hub.healing).toBe(a.runtime.healing)
  })

  it('owns its tasks as one hub does, the same owner over the cluster\'s rows', () => {
    const { tasks } = a.running.hub
    expect(tasks.isShared).toBe(true)
    expect(tasks.engine.store).toBeInstanceOf(PgTaskStore)
    expect(() => tasks.list({ limit: 1 })).toThrow(/^one hub's tasks only: a cluster's admin and events read its rows$/)
  })

  it('every hub shows an agent the same, with the hub that holds it', async () => {
    await agentSocket(b, 'p-1')
    const onA = await waitFor(() => view(a, 'p-1'), (v) => v.connected === true, { what: 'p-1 connected on A' })
    expect(onA).toMatchObject({ agent_id: 'p-1', connected: true, status: 'idle', hub_id: 'hub-b', supervised: true, restart: null })
    expect(steady(await view(b, 'p-1'))).toEqual(steady(onA))
    expect(settled((await a.api('GET', '/agents')).body)).toEqual(settled((await b.api('GET', '/agents')).body))
    expect((await a.api('GET', '/agents/nobody')).status).toBe(404)
  })

  it('pages and filters the agents by status alike on every hub', async () => {
    await agentSocket(a, 'pg-1')
    await agentSocket(b, 'pg-2')
    await agentSocket(a, 'pg-3')
    await waitFor(() => a.api('GET', '/agents?status=idle'), (r) => ['pg-1', 'pg-2', 'pg-3'].every((id) => r.body.agents.some((x: any) => x.agent_id === id)), { what: 'pg-* idle' })
    const all = settled((await b.api('GET', '/agents?status=idle')).body).agents
    expect(all.every((x: any) => x.status === 'idle')).toBe(true)
    expect(settled((await a.api('GET', '/agents?status=idle')).body)).toEqual({ agents: all })
    const walked: any[] = []
    let cursor: string | null = null
    for (let page = 0; page < 20; page++) {
      const q: string = `/agents?status=idle&limit=2${cursor ? `&cursor=${cursor}` : ''}`
      const [onA, onB] = [await a.api('GET', q), await b.api('GET', q)]
      expect(settled(onA.body)).toEqual(settled(onB.body))
      expect(onA.body.agents.length).toBeLessThanOrEqual(2)
      walked.push(...settled(onA.body).agents)
      cursor = onA.body.next_cursor
      if (cursor === null) break
    }
    expect(walked).toEqual(all)
    expect((await a.api('GET', '/agents?status=offline&limit=1')).body.agents.every((x: any) => x.status === 'offline')).toBe(true)
    expect((await b.api('GET', '/agents?limit=0')).status).toBe(400)
  })

  it('a second connection on another hub replaces the first with 4002', async () => {
    const first = await agentSocket(a, 'p-2')
    await agentSocket(b, 'p-2')
    expect((await first.closed).code).toBe(4002)
    expect(await waitFor(() => view(a, 'p-2'), (v) => v.hub_id === 'hub-b', { what: 'p-2 on B' })).toMatchObject({ connected: true })
  })

  it('a restart asked of hub A is carried out by hub B, and completes when the agent comes back to A', async () => {
    const onB = await agentSocket(b, 'p-3')
    const res = await a.api('POST', '/agents/p-3/restart', { reason: 'cross' })
    expect(res).toMatchObject({ status: 200, body: { status: 'restart_commanded', agent_id: 'p-3', reason: 'cross', state: 'commanded', already_pending: false } })
    const frame = await onB.next('restart_sidecar')
    expect(frame).toMatchObject({ restart_id: res.body.restart_id, reason: 'cross' })
    // One pending restart per agent, whichever hub is asked.
    const again = await b.api('POST', '/agents/p-3/restart', {})
    expect(again.body).toMatchObject({ restart_id: res.body.restart_id, already_pending: true })
    onB.send({ type: 'agent_restarting', reason: 'cross', restart_id: frame.restart_id })
    onB.ws.close(1012)
    await onB.closed
    await waitFor(() => view(a, 'p-3'), (v) => v.status === 'restarting', { what: 'p-3 restarting' })
    await agentSocket(a, 'p-3', { pm2_info: pm2Info(1, 101) })
    const done = await waitFor(() => view(b, 'p-3'), (v) => v.restart?.state === 'completed', { what: 'restart completed' })
    expect(done).toMatchObject({ connected: true, hub_id: 'hub-a', restart: { restart_id: res.body.restart_id } })
  })

  it('refuses a restart for an agent that is not connected (404) or not under pm2 (409), from any hub', async () => {
    expect(await a.api('POST', '/agents/ghost/restart', {})).toEqual({ status: 404, body: { error: 'agent_not_connected' } })
    await agentSocket(b, 'p-4', { supervised: false })
    await waitFor(() => view(a, 'p-4'), (v) => v.connected, { what: 'p-4' })
    expect(await a.api('POST', '/agents/p-4/restart', {})).toEqual({ status: 409, body: { error: 'not_supervised' } })
  })

  it('drain on hub A keeps the agent on hub B from new tasks; resume lets it take them', async () => {
    const onB = await agentSocket(b, 'p-5')
    await waitFor(() => view(a, 'p-5'), (v) => v.connected, { what: 'p-5' })
    expect((await a.api('POST', '/agents/p-5/drain')).body).toMatchObject({ agent_id: 'p-5', drained: true })
    const task = (await a.api('POST', '/tasks', { input: { n: 1 }, agent_id: 'p-5' })).body
    expect(task).toMatchObject({ status: 'queued', agent_id: 'p-5' })
    expect((await a.api('POST', '/agents/p-5/resume')).body).toMatchObject({ drained: false })
    const assign = await onB.next('task_assign')
    expect(assign).toMatchObject({ task_id: task.task_id, input: { n: 1 } })
    onB.send({ type: 'task_accepted', task_id: task.task_id })
    onB.send({ type: 'task_complete', task_id: task.task_id, result: { ok: 1 } })
    expect(await onB.next('task_ack')).toEqual({ type: 'task_ack', task_id: task.task_id })
    expect((await b.api('GET', `/tasks/${task.task_id}`)).body).toMatchObject({ status: 'completed', result: { ok: 1 }, attempts: 1, agent_id: 'p-5' })
  })

  it('takes bus messages as hints: a forged drain or close_agent without a connection id changes nothing', async () => {
    const onB = await agentSocket(b, 'hint-1')
    await waitFor(() => view(a, 'hint-1'), (v) => v.connected, { what: 'hint-1' })
    const forger = db.connect({ max: 1 })
    for (const message of [{ kind: 'drain', agent_id: 'hint-1' }, { kind: 'close_agent', agent_id: 'hint-1', connection_id: null }]) {
      await forger`SELECT pg_notify('agentcom_bus', ${JSON.stringify({ ...message, to: 'hub-b', from: 'hub-x' })})`
    }
    await forger.end()
    // Published after the forged messages: a drain or close carried out on them would stop this task.
    const task = (await a.api('POST', '/tasks', { input: 1, agent_id: 'hint-1' })).body
    expect(await onB.next('task_assign')).toMatchObject({ task_id: task.task_id })
    expect(onB.ws.readyState).toBe(onB.ws.OPEN)
    expect(await view(a, 'hint-1')).toMatchObject({ connected: true, drained: false })
  })

  it('a task whose agent never reports is queued again past timeout + grace, and the agent force-restarted (task_overdue)', async () => {
    const onB = await agentSocket(b, 'o-1')
    const task = (await a.api('POST', '/tasks', { input: { n: 1 }, agent_id: 'o-1', timeout_ms: 300 })).body
    const assign = await onB.next('task_assign')
    onB.send({ type: 'task_accepted', task_id: assign.task_id })
    // timeout 300 ms + grace 1 s, on the database's clock, found by hub B's sweep.
    expect(await onB.next('task_cancel', 10_000)).toEqual({ type: 'task_cancel', task_id: task.task_id })
    expect(await onB.next('restart_sidecar', 10_000)).toMatchObject({ reason: 'task_overdue', mode: 'force' })
    const again = (await a.api('GET', `/tasks/${task.task_id}`)).body
    expect(again).toMatchObject({ status: 'queued', attempts: 1, agent_id: 'o-1' })
    expect(await waitFor(() => view(a, 'o-1'), (v) => v.restart?.reason === 'task_overdue', { what: 'restart in the rows' })).toMatchObject({ hub_id: 'hub-b' })
  })

  it('tasks posted to both hubs run once each, never on two agents at once', async () => {
    const agents = [await agentSocket(a, 'q-1'), await agentSocket(a, 'q-2'), await agentSocket(b, 'q-3'), await agentSocket(b, 'q-4')]
    const runs = new Map<string, number>()
    let running = 0
    for (const socket of agents) {
      void (async () => {
        for (;;) {
          const frame = await socket.next('task_assign', 30_000).catch(() => null)
          if (!frame) return
          runs.set(frame.task_id, (runs.get(frame.task_id) ?? 0) + 1)
          running++
          socket.send({ type: 'task_accepted', task_id: frame.task_id })
          socket.send({ type: 'task_complete', task_id: frame.task_id, result: null })
          await socket.next('task_ack')
          running--
        }
      })()
    }
    const posted = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).api('POST', '/tasks', { input: { i } })))
    expect(posted.every((p) => p.status === 201)).toBe(true)
    const ids = posted.map((p) => p.body.task_id)
    for (const id of ids) {
      await waitFor(() => a.api('GET', `/tasks/${id}`), (r) => r.body.status === 'completed', { what: `task ${id}` })
    }
    expect([...runs.values()].every((n) => n === 1)).toBe(true)
    expect(ids.every((id) => runs.get(id) === 1)).toBe(true)
    expect(running).toBeLessThanOrEqual(4)
  })
})

describe('a hub that dies', () => {
  it("its agents show offline within the lease; its running task follows the grace rule and completes once on the other hub", async () => {
    const c = await startHub('hub-c')
    const onC = await agentSocket(c, 'd-1')
    const task = (await a.api('POST', '/tasks', { input: { long: true }, agent_id: 'd-1' })).body
    const assign = await onC.next('task_assign')
    onC.send({ type: 'task_accepted', task_id: assign.task_id })
    await waitFor(() => a.api('GET', `/tasks/${task.task_id}`), (r) => r.body.status === 'working', { what: 'working' })
    // Dies: no more renewals, no clean release; its socket to the agent is cut.
    await c.runtime.lease.stop()
    await waitFor(() => view(a, 'd-1'), (v) => v.connected === false && v.status === 'offline', { what: 'd-1 offline', timeoutMs: LEASE_MS + 5000 })
    // The sidecar still runs it and reports it from hub A.
    onC.close()
    const back = await agentSocket(a, 'd-1', { active_task_id: task.task_id })
    back.send({ type: 'task_accepted', task_id: task.task_id })
    back.send({ type: 'task_complete', task_id: task.task_id, result: 'late but once' })
    expect(await back.next('task_ack')).toEqual({ type: 'task_ack', task_id: task.task_id })
    expect((await b.api('GET', `/tasks/${task.task_id}`)).body).toMatchObject({ status: 'completed', attempts: 1, result: 'late but once' })
    await stopHub(c)
  })
})
