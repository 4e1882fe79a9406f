/**
 * The hub crashes (SIGKILL) and comes back on the same port and data dir while a sidecar
 * under a real pm2 runs a task: nothing the hub accepted is lost, nothing runs twice.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { createPm2Sandbox, DEMO_TASK, type Pm2Sandbox } from '../../support/pm2.ts'
import { waitFor } from '../../support/wait.ts'

let hub: HubProcess
let pm2: Pm2Sandbox
let ledger: string

beforeAll(async () => {
  hub = await startHubProcess()
  pm2 = await createPm2Sandbox()
  ledger = join(pm2.home, 'ledger.txt')
  await pm2.startSidecar('hr-1', {
    AGENTCOM_HUB_URL: hub.wsUrl, AGENTCOM_TOKEN: await hub.agentToken('hr-1'),
    AGENTCOM_TASK_COMMAND: `echo "$AGENTCOM_TASK_ID" >> "${ledger}"; exec ${DEMO_TASK}`,
  })
  await waitFor(() => hub.api('GET', '/api/admin/agents/hr-1'), (r) => r.body.status === 'idle', { what: 'hr-1 idle' })
})

afterAll(async () => {
  await pm2?.kill()
  await hub?.stop()
})

const task = async (id: string) => (await hub.api('GET', `/api/admin/tasks/${id}`)).body
const starts = async (taskId: string) =>
  (await readFile(ledger, 'utf8').catch(() => '')).split('\n').filter((line) => line === taskId).length

describe('a hub crash', () => {
  it('loses no task: finished, running and queued tasks all survive, and none runs twice', async () => {
    const done = (await hub.api('POST', '/api/admin/tasks', { input: { n: 'done' } })).body
    await waitFor(() => task(done.task_id), (t) => t.status === 'completed')
    const running = (await hub.api('POST', '/api/admin/tasks', { input: { sleep_ms: 2500 }, agent_id: 'hr-1' })).body
    const queued = (await hub.api('POST', '/api/admin/tasks', { input: { n: 'later' }, agent_id: 'hr-2' })).body
    await waitFor(() => task(running.task_id), (t) => t.status === 'working')

    const port = new URL(hub.url).port
    await hub.crash()
    hub = await startHubProcess({ PORT: port }, undefined, { secret: hub.secret, dataDir: hub.dataDir })

    expect(await task(done.task_id)).toMatchObject({ status: 'completed', result: { echo: { n: 'done' } } })
    expect(await task(queued.task_id)).toMatchObject({ status: 'queued', agent_id: 'hr-2' })
    const finished = await waitFor(() => task(running.task_id), (t) => t.status === 'completed', { timeoutMs: 30_000 })
    expect(finished).toMatchObject({ attempts: 1, agent_id: 'hr-1', result: { echo: { sleep_ms: 2500 } } })
    expect(await starts(running.task_id)).toBe(1)
    expect(hub.logs.join('\n')).toContain('"msg":"tasks restored"')
  })
})
