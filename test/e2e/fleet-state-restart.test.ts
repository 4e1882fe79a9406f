/**
 * One hub keeps its restarts, rollouts, quarantines and healing history in the data dir
 * (hub/store/): a hub process killed with SIGKILL and started again on the same data dir still
 * shows them, goes on with a restart that was pending, and saves honestly (a failed save shows
 * on /health until the disk is back). Agents are raw WebSocket clients speaking the protocol.
 */
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { pm2Info } from '../../support/cluster-hubs.ts'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { identifiedSocket, type TestSocket } from '../../support/ws-client.ts'
import { waitFor } from '../../support/wait.ts'

const hubs: HubProcess[] = []
const sockets: TestSocket[] = []
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close()
  for (const hub of hubs.splice(0)) await hub.stop()
})

async function startHub(reuse?: HubProcess): Promise<HubProcess> {
  const hub = await startHubProcess({ AGENTCOM_HEAL_CRASH_LIMIT: '2' }, undefined, reuse && { secret: reuse.secret, dataDir: reuse.dataDir })
  hubs.push(hub)
  return hub
}

async function agent(hub: HubProcess, agentId: string, restarts = 0): Promise<TestSocket> {
  const socket = await identifiedSocket(hub.wsUrl, agentId, await hub.agentToken(agentId), { pm2_info: pm2Info(restarts, 100 + restarts) })
  sockets.push(socket)
  return socket
}

/** The sidecar's side of a restart: says so, closes, comes back as the next pm2 process. */
async function obey(hub: HubProcess, socket: TestSocket, agentId: string, restarts: number): Promise<TestSocket> {
  const frame = await socket.next('restart_sidecar')
  socket.send({ type: 'agent_restarting', reason: frame.reason, restart_id: frame.restart_id })
  socket.close()
  await socket.closed
  return agent(hub, agentId, restarts)
}

async function offline(hub: HubProcess, socket: TestSocket, agentId: string): Promise<void> {
  socket.close()
  await waitFor(() => hub.api('GET', `/api/admin/agents/${agentId}`), (r) => r.body.connected === false, { what: `${agentId} offline` })
}

const savedSnapshot = (hub: HubProcess) => readFile(join(hub.dataDir, 'hub-fleet.json'), 'utf8').catch(() => '')
/** The snapshot and its journal (hub/store/fleet-journal.ts): what changed since the snapshot is appended there. */
const savedState = async (hub: HubProcess) =>
  (await savedSnapshot(hub)) + await readFile(join(hub.dataDir, 'hub-fleet.json.journal'), 'utf8').catch(() => '')

describe('the fleet state of one hub across a hub restart', () => {
  it('keeps the restart, the rollout, the quarantine and the healing history after a SIGKILL', async () => {
    let hub = await startHub()
    // A restart, completed.
    const r1 = await agent(hub, 'r1')
    const restart = (await hub.api('POST', '/api/admin/agents/r1/restart', { reason: 'keep me' })).body
    await obey(hub, r1, 'r1', 1)
    await waitFor(() => hub.api('GET', '/api/admin/agents/r1'), (r) => r.body.restart?.state === 'completed', { what: 'restart completed' })
    // A rollout, completed.
    const r2 = await agent(hub, 'r2')
    const rollout = (await hub.api('POST', '/api/admin/rollouts', { agent_ids: ['r2'], reason: 'roll me' })).body
    await obey(hub, r2, 'r2', 1)
    await waitFor(() => hub.api('GET', `/api/admin/rollouts/${rollout.rollout_id}`), (r) => r.body.state === 'completed', { what: 'rollout completed' })
    // A quarantine: two unplanned restarts.
    await offline(hub, await agent(hub, 'q1'), 'q1')
    await offline(hub, await agent(hub, 'q1', 1), 'q1')
    await offline(hub, await agent(hub, 'q1', 2), 'q1')
    await waitFor(() => hub.api('GET', '/api/admin/agents/q1'), (r) => r.body.quarantined === true, { what: 'quarantined' })
    // A restart pending when the hub dies (the agent never answers), and healing paused.
    await agent(hub, 'p1')
    const pending = (await hub.api('POST', '/api/admin/agents/p1/restart', {})).body
    await hub.api('POST', '/api/admin/healing/pause')
    const before = (await hub.api('GET', '/api/admin/healing')).body
    await waitFor(() => savedState(hub), (text) => text.includes(pending.restart_id) && text.includes('"paused":true'), { what: 'the state saved' })

    await hub.crash()
    for (const s of sockets.splice(0)) s.close()
    hub = await startHub(hub)

    expect((await hub.api('GET', '/api/admin/agents/r1')).body).toMatchObject({
      connected: false, restart: { restart_id: restart.restart_id, reason: 'keep me', state: 'completed' },
    })
    expect((await hub.api('GET', `/api/admin/rollouts/${rollout.rollout_id}`)).body).toMatchObject({
      state: 'completed', reason: 'roll me', agents: [{ agent_id: 'r2', state: 'completed' }],
    })
    expect((await hub.api('GET', '/api/admin/agents/q1')).body).toMatchObject({ quarantined: true, drained: true })
    const after = (await hub.api('GET', '/api/admin/healing')).body
    expect(after).toEqual(before)
    expect(after.actions).toEqual([expect.objectContaining({ agent_id: 'q1', action: 'quarantine', state: 'quarantined' })])

    // The pending restart goes on: the agent comes back as a new process and it completes.
    await agent(hub, 'p1', 1)
    await waitFor(() => hub.api('GET', '/api/admin/agents/p1'), (r) => r.body.restart?.state === 'completed', { what: 'the pending restart completed' })
    expect((await hub.api('GET', '/api/admin/agents/p1')).body.restart.restart_id).toBe(pending.restart_id)
    // The restored quarantine is the live one: resume lifts it, in the history too.
    expect((await hub.api('POST', '/api/admin/agents/q1/resume')).body).toMatchObject({ quarantined: false })
    expect((await hub.api('GET', '/api/admin/healing')).body.actions[0]).toMatchObject({ agent_id: 'q1', state: 'lifted' })
  })

  it('shows a failed save on /health until the disk is back, and moves a corrupt file aside', async () => {
    let hub = await startHub()
    const health = async () => (await fetch(`${hub.url}/health`)).status
    await rename(hub.dataDir, `${hub.dataDir}.saved`)
    await writeFile(hub.dataDir, 'a file where the data dir was')
    await hub.api('POST', '/api/admin/healing/pause')
    await waitFor(health, (status) => status === 503, { what: '/health degraded' })
    await rm(hub.dataDir)
    await rename(`${hub.dataDir}.saved`, hub.dataDir)
    await waitFor(health, (status) => status === 200, { what: '/health ok again', timeoutMs: 5000 })
    expect(JSON.parse(await savedSnapshot(hub)).healing.paused).toBe(true)

    await hub.stop()
    await writeFile(join(hub.dataDir, 'hub-fleet.json'), '{"version":1,"agents":"not a list"}')
    hub = await startHub(hub)
    expect((await hub.api('GET', '/api/admin/healing')).body.paused).toBe(false)
    expect(hub.logs.join('\n')).toContain('fleet state file is corrupt; moved aside')
  })
})
