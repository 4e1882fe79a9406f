/**
 * Healing's one decider: the hub holding the lease in `healing_state`. When its hub dies another
 * takes over after the lease, and counts the budget from the rows, so the per-agent limit the
 * old decider reached still holds (`heal_escalated` instead of a restart, once per window); a
 * clean stop hands the lease over at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'
import { agentOn, holdDeciderSteps, pm2Info, startClusterHub, type TestHub } from '../../support/cluster-hubs.ts'
import { startWebhookServer } from '../../support/webhook.ts'
import type { TestSocket } from '../../support/ws-client.ts'
import { waitFor } from '../../support/wait.ts'
import type { Sql } from '../../hub/pg/connect.ts'
import { deciderHub } from '../../hub/pg/healing-rows.ts'

const MB = 1024 * 1024
const LEASE_MS = 1000
const HEALING = { maxMemoryMb: 100, maxConcurrent: 1, cooldownS: 0, maxPerAgent: 1, windowS: 600 }

let db: TestDatabase
let sql: Sql
let webhook: Awaited<ReturnType<typeof startWebhookServer>>
const hubs: TestHub[] = []
const sockets: TestSocket[] = []
/** Lets the decider step again; afterAll calls it too, so a failed test does not leave the row locked. */
let release: () => Promise<void> = async () => {}

beforeAll(async () => {
  db = await createTestDatabase()
  sql = db.connect({ max: 2 })
  webhook = await startWebhookServer()
})
afterAll(async () => {
  await release()
  for (const s of sockets) s.close()
  for (const hub of hubs) await hub.stop().catch(() => undefined)
  await webhook?.close()
  await db?.drop()
})

async function hub(id: string): Promise<TestHub> {
  const started = await startClusterHub(db.url, id, { leaseMs: LEASE_MS, hub: { healing: HEALING, alertWebhookUrl: webhook.url } })
  hubs.push(started)
  return started
}

function reportRss(socket: TestSocket, mb: number): void {
  socket.send({ type: 'stats', rss_bytes: mb * MB, heap_used_bytes: MB, event_loop_delay_ms: 0, uptime_ms: 1000 })
}

const decider = (what: string, hubId: string) => waitFor(() => deciderHub(sql), (id) => id === hubId, { what, timeoutMs: 10_000 })

describe('the healing decider', () => {
  it('another hub takes over when the decider dies, and keeps its per-agent counts; a clean stop hands over at once', async () => {
    const first = await hub('hd-a')
    await decider('hd-a deciding', 'hd-a')
    const second = await hub('hd-b')
    let socket = await agentOn(second, 'mem-1', { pm2_info: pm2Info(0, 100) })
    sockets.push(socket)
    reportRss(socket, 150)
    reportRss(socket, 150)
    // Decided on A, carried out on B (which holds the socket).
    expect(await socket.next('restart_sidecar')).toMatchObject({ reason: 'heal:memory' })
    socket.close()
    socket = await agentOn(second, 'mem-1', { pm2_info: pm2Info(1, 101) })
    sockets.push(socket)
    const history = () => second.api('GET', '/healing').then((r) => r.body.actions.filter((x: any) => x.agent_id === 'mem-1'))
    await waitFor(history, (actions) => actions[0]?.state === 'completed', { what: 'the restart completed' })
    const [took] = await sql<{ hub_id: string }[]>`SELECT hub_id FROM healing_actions WHERE agent_id = 'mem-1'`
    expect(took.hub_id).toBe('hd-a')

    // A dies (no more lease renewals): B takes the decider lease once A's runs out.
    await first.runtime.lease.stop()
    await decider('hd-b deciding', 'hd-b')
    // Over the limit again: one restart within the window was the limit, so B escalates, once.
    reportRss(socket, 150)
    reportRss(socket, 150)
    const escalated = await waitFor(history, (actions) => actions.some((x: any) => x.action === 'escalate'), { what: 'escalation' })
    expect(escalated.filter((x: any) => x.action === 'restart')).toHaveLength(1)
    expect(escalated[0]).toMatchObject({ action: 'escalate', rule: 'memory', state: 'alerted', detail: expect.stringContaining('1 healing restarts within 600 s') })
    reportRss(socket, 50)
    release = await holdDeciderSteps(sql)
    reportRss(socket, 150)
    reportRss(socket, 150)
    await waitFor(() => sql`SELECT 1 FROM healing_requests WHERE agent_id = 'mem-1'`, (rows) => rows.length === 1, { what: 'asked again' })
    await release()
    await second.runtime.healing!.step()
    expect((await history()).map((x: any) => x.action)).toEqual(['escalate', 'restart'])
    // Refused, the request does not wait in line: the next report above asks again.
    expect(await sql`SELECT 1 FROM healing_requests WHERE agent_id = 'mem-1'`).toEqual([])
    await waitFor(async () => webhook.received.filter((x) => x.body.type === 'heal_escalated'), (r) => r.length > 0, { what: 'the alert' })
    expect(webhook.received.map((x) => x.body.type)).toEqual(['heal_escalated'])
    expect((await second.api('GET', '/agents/mem-1')).body.restart).toMatchObject({ state: 'completed', reason: 'heal:memory' })

    // A clean stop of the decider: a third hub takes over at its next sweep, not a lease later.
    const third = await hub('hd-c')
    await second.stop()
    hubs.splice(hubs.indexOf(second), 1)
    // Released on stop (its lease would otherwise still run for up to LEASE_MS).
    const [state] = await sql<{ hub_id: string | null }[]>`SELECT decider_hub_id AS hub_id FROM healing_state`
    expect(state.hub_id).not.toBe('hd-b')
    await decider('hd-c deciding', 'hd-c')
    expect(third.runtime.healing!.isDecider).toBe(true)
  })
})
