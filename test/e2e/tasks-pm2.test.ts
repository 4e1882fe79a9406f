/**
 * Tasks that survive restarts, on a real hub and real sidecars under a real pm2: deferred
 * graceful restarts, pinned tasks that wait, force restarts and SIGKILL that lose nothing,
 * and a burst where every task runs exactly once.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { createPm2Sandbox, DEMO_TASK, type Pm2Sandbox } from '../../support/pm2.ts'
import { waitFor, waitUntil } from '../../support/wait.ts'

let hub: HubProcess
let pm2: Pm2Sandbox
let ledger: string
const AGENTS = ['t-1', 't-2']

beforeAll(async () => {
  hub = await startHubProcess({ AGENTCOM_TASK_GRACE_MS: '20000' })
  pm2 = await createPm2Sandbox()
  ledger = join(pm2.home, 'ledger.txt')
  // Every start of a task is written down, to prove nothing runs twice when it should not.
  const command = `echo "$AGENTCOM_TASK_ID" >> "${ledger}"; exec ${DEMO_TASK}`
  for (const id of AGENTS) {
    await pm2.startSidecar(id, {
      AGENTCOM_HUB_URL: hub.wsUrl, AGENTCOM_TOKEN: await hub.agentToken(id), AGENTCOM_TASK_COMMAND: command,
    })
  }
  for (const id of AGENTS) await waitFor(() => agent(id), (a) => a.status === 'idle', { what: `${id} idle` })
})

afterAll(async () => {
  await pm2?.kill()
  await hub?.stop()
})

const agent = async (id: string) => (await hub.api('GET', `/api/admin/agents/${id}`)).body
const task = async (id: string) => (await hub.api('GET', `/api/admin/tasks/${id}`)).body
const submit = async (body: unknown) => {
  const res = await hub.api('POST', '/api/admin/tasks', body)
  expect(res.status).toBe(201)
  return res.body
}
const starts = async (taskId: string) =>
  (await readFile(ledger, 'utf8').catch(() => '')).split('\n').filter((line) => line === taskId).length
const settled = (id: string, timeout = 30_000) =>
  waitUntil(async () => expect((await task(id)).status).toMatch(/^(completed|failed)$/), { timeoutMs: timeout })

describe('tasks under a real pm2', () => {
  it('runs a task and returns the demo command\'s echo', async () => {
    const t = await submit({ input: { hello: 'world' } })
    expect(t).toMatchObject({ status: 'queued', input: { hello: 'world' }, attempts: 0 })
    await settled(t.task_id)
    expect(await task(t.task_id)).toMatchObject({ status: 'completed', result: { echo: { hello: 'world' } }, attempts: 1 })
  })

  it('defers a graceful restart until the running task is done; a pinned task waits meanwhile', async () => {
    const before = (await agent('t-1')).pm2_info.restart_count
    const long = await submit({ input: { sleep_ms: 2500 }, agent_id: 't-1' })
    await waitUntil(async () => expect((await task(long.task_id)).status).toBe('working'))
    const restart = await hub.api('POST', '/api/admin/agents/t-1/restart', {})
    expect(restart.body.state).toBe('deferred')
    const pinned = await submit({ input: { n: 1 }, agent_id: 't-1' })

    await settled(long.task_id)
    expect(await task(long.task_id)).toMatchObject({ status: 'completed', attempts: 1 })
    // The pinned task was never given to an agent about to restart.
    const whileRestarting = await task(pinned.task_id)
    expect(['queued', 'completed']).toContain(whileRestarting.status)
    await waitUntil(async () => expect((await agent('t-1')).restart.state).toBe('completed'), { timeoutMs: 30_000 })
    expect((await agent('t-1')).pm2_info.restart_count).toBe(before + 1)
    await settled(pinned.task_id)
    expect(await task(pinned.task_id)).toMatchObject({ status: 'completed', agent_id: 't-1', attempts: 1 })
    expect(await starts(pinned.task_id)).toBe(1)
  })

  it('force restart stops the running task and runs it again', async () => {
    const cut = await submit({ input: { sleep_ms: 4000 }, agent_id: 't-2' })
    await waitUntil(async () => expect((await task(cut.task_id)).status).toBe('working'))
    // "working" means accepted; wait until the command itself has started, so it is really cut.
    await waitUntil(async () => expect(await starts(cut.task_id)).toBe(1))
    const res = await hub.api('POST', '/api/admin/agents/t-2/restart', { mode: 'force' })
    expect(res.status).toBe(200)
    await settled(cut.task_id)
    expect(await task(cut.task_id)).toMatchObject({ status: 'completed', attempts: 2, result: { echo: { sleep_ms: 4000 } } })
    expect(await starts(cut.task_id)).toBe(2)
    expect((await agent('t-2')).restart.state).toBe('completed')
  })

  it('loses nothing when a sidecar is killed with SIGKILL mid-task', async () => {
    const t = await submit({ input: { sleep_ms: 3000 }, agent_id: 't-1' })
    await waitUntil(async () => expect((await task(t.task_id)).status).toBe('working'))
    const { pid } = await pm2.get('agentcom-t-1')
    process.kill(pid, 'SIGKILL')
    await settled(t.task_id, 40_000)
    expect(await task(t.task_id)).toMatchObject({ status: 'completed', attempts: 2 })
  })

  it('finishes the running task when someone runs `pm2 restart` by hand (SIGINT)', async () => {
    const t = await submit({ input: { sleep_ms: 1500 }, agent_id: 't-2' })
    await waitUntil(async () => expect((await task(t.task_id)).status).toBe('working'))
    await pm2.pm2(['restart', 'agentcom-t-2'])
    await settled(t.task_id)
    expect(await task(t.task_id)).toMatchObject({ status: 'completed', attempts: 1 })
    expect(await starts(t.task_id)).toBe(1)
    await waitFor(() => agent('t-2'), (a) => a.status === 'idle', { what: 't-2 back' })
  })

  it('runs a burst of tasks, each exactly once', async () => {
    const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => submit({ input: { i, sleep_ms: 20 } })))
    for (const t of burst) await settled(t.task_id)
    const done = await Promise.all(burst.map((t) => task(t.task_id)))
    expect(done.map((t) => t.status)).toEqual(burst.map(() => 'completed'))
    expect(done.map((t) => t.result.echo.i)).toEqual(burst.map((_, i) => i))
    for (const t of burst) expect(await starts(t.task_id)).toBe(1)
    expect(new Set(done.map((t) => t.agent_id))).toEqual(new Set(AGENTS))
  })
})
