/**
 * Healing's budget and quarantine hold for the whole cluster, not per hub: two hubs, agents on
 * both. At most AGENTCOM_HEAL_MAX_CONCURRENT (1) healing restarts in flight in the fleet; none
 * while a cluster rollout runs (a refused memory restart is asked again by the next report); a crash loop spread over both hubs ends in one quarantine that
 * holds on every hub until a resume on any hub.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestDatabase } from '../../support/test-database.ts'
import { agentOn, holdDeciderSteps, pm2Info, useTwoClusterHubs, type TestHub } from '../../support/cluster-hubs.ts'
import { startWebhookServer } from '../../support/webhook.ts'
import type { TestSocket } from '../../support/ws-client.ts'
import { waitFor } from '../../support/wait.ts'
import type { Sql } from '../../hub/pg/connect.ts'

const MB = 1024 * 1024
const HEALING = { maxMemoryMb: 100, maxConcurrent: 1, cooldownS: 0, maxPerAgent: 3, crashLimit: 3, windowS: 600 }

let db: TestDatabase
let sql: Sql
let webhook: Awaited<ReturnType<typeof startWebhookServer>>
let a: TestHub
let b: TestHub
beforeAll(async () => {
  webhook = await startWebhookServer()
})
// Registered before the hubs' own: hooks run as a stack, so the webhook closes after they stop.
afterAll(() => webhook?.close())
const sockets = useTwoClusterHubs(['hf-a', 'hf-b'], (hubs) => {
  ({ db, a, b } = hubs)
  sql = db.connect({ max: 2 })
}, () => ({ hub: { healing: HEALING, alertWebhookUrl: webhook.url } }))

async function agent(hub: TestHub, id: string, restarts: number, pid: number): Promise<TestSocket> {
  const socket = await agentOn(hub, id, { pm2_info: pm2Info(restarts, pid) })
  sockets.push(socket)
  return socket
}

function reportRss(socket: TestSocket, mb: number): void {
  socket.send({ type: 'stats', rss_bytes: mb * MB, heap_used_bytes: MB, event_loop_delay_ms: 0, uptime_ms: 1000 })
}

/** A step of each hub's decider, begun after this call: whichever holds the lease has looked at what is filed. */
async function stepDeciders(): Promise<void> {
  await Promise.all([a, b].map((hub) => hub.runtime.healing!.step()))
}

const requested = (agentId: string) => waitFor(
  () => sql`SELECT rule FROM healing_requests WHERE agent_id = ${agentId}`, (rows) => rows.length === 1, { what: `${agentId}'s request` },
)

const healingRestarts = async (agentId: string) =>
  (await a.api('GET', '/healing')).body.actions.filter((x: any) => x.agent_id === agentId && x.action === 'restart')

describe('healing decides for the whole cluster', () => {
  it('two memory-hungry agents on different hubs are never healing at the same time (max_concurrent 1)', async () => {
    const onA = await agent(a, 'mem-a', 0, 100)
    const onB = await agent(b, 'mem-b', 0, 200)
    // Both are filed before the decider looks, so it chooses between them.
    const release = await holdDeciderSteps(sql)
    for (const s of [onA, onB, onA, onB]) reportRss(s, 150)
    await Promise.all([requested('mem-a'), requested('mem-b')])
    await release()
    const first = await waitFor(() => a.api('GET', '/healing'), (r) => r.body.actions.some((x: any) => x.action === 'restart'), { what: 'a healing restart' })
    const firstAction = first.body.actions.find((x: any) => x.action === 'restart')
    const [firstSocket, secondId] = firstAction.agent_id === 'mem-a' ? [onA, 'mem-b'] : [onB, 'mem-a']
    expect(await firstSocket.next('restart_sidecar')).toMatchObject({ reason: 'heal:memory', mode: 'graceful', restart_id: firstAction.restart_id })
    await stepDeciders()
    await stepDeciders()
    expect(await healingRestarts(secondId)).toEqual([])
    expect((await b.api('GET', `/agents/${secondId}`)).body.restart).toBeNull()
    // Refused, the second's request did not wait in line (as on one hub).
    expect(await sql`SELECT agent_id FROM healing_requests`).toEqual([])

    // The first comes back a new process, on the other hub: its restart is over; the second's
    // starts on its next report above the limit.
    firstSocket.close()
    const firstHub = firstAction.agent_id === 'mem-a' ? b : a
    await agent(firstHub, firstAction.agent_id, 1, 101)
    await waitFor(() => healingRestarts(firstAction.agent_id), (r) => r[0]?.state === 'completed', { what: 'first restart completed' })
    await stepDeciders()
    expect(await healingRestarts(secondId)).toEqual([])
    const secondSocket = secondId === 'mem-a' ? onA : onB
    reportRss(secondSocket, 150)
    const second = await secondSocket.next('restart_sidecar')
    expect(second).toMatchObject({ reason: 'heal:memory' })
    const actions = (await b.api('GET', '/healing')).body.actions
    const done = actions.find((x: any) => x.action_id === firstAction.action_id)
    const started = actions.find((x: any) => x.restart_id === second.restart_id)
    expect(done.state).toBe('completed')
    expect(started.at).toBeGreaterThanOrEqual(done.updated_at)
    // Ends what it started: the second comes back too, so nothing stays in flight.
    secondSocket.close()
    await agent(secondId === 'mem-a' ? a : b, secondId, 1, 301)
    await waitFor(() => healingRestarts(secondId), (r) => r[0]?.state === 'completed', { what: 'second restart completed' })
  })

  it('no healing restart starts while a cluster rollout runs; it starts once the rollout is over', async () => {
    const rolled = await agent(a, 'ro-1', 0, 400)
    const hungry = await agent(b, 'mem-r', 0, 500)
    const rollout = (await b.api('POST', '/rollouts', { agent_ids: ['ro-1'], max_unavailable: 1, reason: 'deploy' })).body
    await rolled.next('restart_sidecar')
    const release = await holdDeciderSteps(sql)
    reportRss(hungry, 150)
    reportRss(hungry, 150)
    await requested('mem-r')
    await release()
    await stepDeciders()
    expect(await healingRestarts('mem-r')).toEqual([])
    expect((await a.api('GET', '/agents/mem-r')).body.restart).toBeNull()
    expect(await sql`SELECT agent_id FROM healing_requests`).toEqual([])

    rolled.close()
    await agent(b, 'ro-1', 1, 401)
    await waitFor(() => a.api('GET', `/rollouts/${rollout.rollout_id}`), (r) => r.body.state === 'completed', { what: 'rollout completed' })
    reportRss(hungry, 150)
    expect(await hungry.next('restart_sidecar')).toMatchObject({ reason: 'heal:memory' })
    hungry.close()
    await agent(a, 'mem-r', 1, 501)
    await waitFor(() => healingRestarts('mem-r'), (r) => r[0]?.state === 'completed', { what: 'heal restart completed' })
  })

  it('a crash loop over both hubs ends in one quarantine, held on every hub until a resume on any hub', async () => {
    const quarantines = async () => (await a.api('GET', '/healing')).body.actions.filter((x: any) => x.agent_id === 'loop-1' && x.action === 'quarantine')
    // Each hub alone sees two of the three unplanned restarts; the cluster counts all three.
    ;(await agent(a, 'loop-1', 0, 600)).close()
    ;(await agent(b, 'loop-1', 1, 601)).close()
    ;(await agent(a, 'loop-1', 2, 602)).close()
    expect((await a.api('GET', '/agents/loop-1')).body.quarantined).toBe(false)
    const onB = await agent(b, 'loop-1', 3, 603)
    for (const hub of [a, b]) {
      expect((await hub.api('GET', '/agents/loop-1')).body).toMatchObject({ quarantined: true, drained: true, hub_id: 'hf-b' })
    }
    expect(b.running.hub.fleet.get('loop-1')).toMatchObject({ quarantined: true, drained: true })
    expect(await quarantines()).toMatchObject([{ rule: 'crash_loop', state: 'quarantined', detail: '3 unplanned restarts within 600 s' }])

    // It crashes again and comes back on A: still quarantined there, and no second quarantine.
    onB.close()
    await agent(a, 'loop-1', 4, 604)
    expect(a.running.hub.fleet.get('loop-1')).toMatchObject({ quarantined: true, drained: true })
    expect(a.running.hub.fleet.isAvailable('loop-1')).toBe(false)
    expect(await quarantines()).toHaveLength(1)
    await waitFor(async () => webhook.received.filter((x) => x.body.agent_id === 'loop-1'), (r) => r.length > 0, { what: 'the alert' })
    expect(webhook.received.filter((x) => x.body.agent_id === 'loop-1').map((x) => x.body.type)).toEqual(['agent_quarantined'])

    // Resumed on B, while A holds it: lifted everywhere.
    expect((await b.api('POST', '/agents/loop-1/resume')).body).toMatchObject({ quarantined: false, drained: false })
    await waitFor(async () => a.running.hub.fleet.get('loop-1')?.quarantined, (q) => q === false, { what: 'A lifts it' })
    expect((await a.api('GET', '/agents/loop-1')).body).toMatchObject({ quarantined: false, drained: false })
    expect(await quarantines()).toMatchObject([{ state: 'lifted' }])
    // Its count started over: one more crash quarantines nothing.
    await agent(b, 'loop-1', 5, 605)
    expect((await a.api('GET', '/agents/loop-1')).body).toMatchObject({ quarantined: false })
    expect(await quarantines()).toHaveLength(1)
  })
})
