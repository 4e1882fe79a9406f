/**
 * A restart commanded just as the sidecar's connection drops: a real sidecar under a real pm2
 * (temporary PM2_HOME, killed at the end), reaching the hub through a proxy that loses the
 * command in transit, swallows the sidecar's goodbye, or cuts the connection a few milliseconds
 * before or after the command. Every round ends with the restart done exactly once (pm2's
 * restart count one higher, the hub's restart `completed`), or, if the hub had already seen the
 * drop and answered 404, not done at all; and the agent then runs a task exactly once.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { createPm2Sandbox, DEMO_TASK, type Pm2Sandbox } from '../../support/pm2.ts'
import { waitFor } from '../../support/wait.ts'
import { startProxy, type Proxy } from './support/proxy.ts'
import { recordFigures } from './support/figures.ts'
import { HEAVY_RUNTIME, sizes } from './support/scale.ts'

const AGENT = 'race-1'
const NAME = `agentcom-${AGENT}`
let hub: HubProcess
let proxy: Proxy
let pm2: Pm2Sandbox
let ledger: string

beforeAll(async () => {
  hub = await startHubProcess({}, HEAVY_RUNTIME)
  proxy = await startProxy(Number(new URL(hub.url).port))
  pm2 = await createPm2Sandbox()
  ledger = join(pm2.home, 'ledger.txt')
  await pm2.startSidecar(AGENT, {
    AGENTCOM_HUB_URL: proxy.wsUrl, AGENTCOM_TOKEN: await hub.agentToken(AGENT),
    AGENTCOM_TASK_COMMAND: `echo "$AGENTCOM_TASK_ID" >> "${ledger}"; exec ${DEMO_TASK}`,
  })
  await waitFor(agent, (a) => a.status === 'idle', { what: `${AGENT} idle` })
})

afterAll(async () => {
  await pm2?.kill()
  await proxy?.close()
  await hub?.stop()
})

async function agent() {
  return (await hub.api('GET', `/api/admin/agents/${AGENT}`)).body
}

const starts = async (taskId: string) =>
  (await readFile(ledger, 'utf8').catch(() => '')).split('\n').filter((line) => line === taskId).length

type Outcome = { commanded: boolean; restarts: number; state: string | null }

/**
 * Runs one race: `disturb` does its damage around the restart command; then waits for the agent
 * to settle, checks pm2 and the hub agree, and proves the agent healthy with a pinned task.
 */
async function race(disturb: (command: () => Promise<{ status: number; body: any }>) => Promise<{ status: number; body: any }>): Promise<Outcome> {
  await waitFor(agent, (a) => a.connected && a.status === 'idle', { timeoutMs: 30_000, what: 'idle before the round' })
  const before = await pm2.get(NAME)
  const res = await disturb(() => hub.api('POST', `/api/admin/agents/${AGENT}/restart`, { reason: 'race' }))
  expect([200, 404]).toContain(res.status)
  if (res.status === 200) {
    const done = await waitFor(agent, (a) => a.restart?.restart_id === res.body.restart_id && (a.restart.state === 'completed' || a.restart.state === 'failed'), { timeoutMs: 60_000, intervalMs: 100, what: 'restart settled' })
    expect(done.restart.state).toBe('completed')
  } else {
    expect(res.body).toEqual({ error: 'agent_not_connected' })
  }
  // Healthy, and nothing left pending: a task runs once; pm2 counted exactly the restarts owed.
  const back = await waitFor(agent, (a) => a.connected && a.status === 'idle', { timeoutMs: 30_000, what: 'idle after the round' })
  const task = (await hub.api('POST', '/api/admin/tasks', { input: { round: before.restart_time }, agent_id: AGENT })).body
  await waitFor(() => hub.api('GET', `/api/admin/tasks/${task.task_id}`), (r) => r.body.status === 'completed', { timeoutMs: 30_000, what: 'task completed' })
  expect(await starts(task.task_id)).toBe(1)
  const after = await pm2.get(NAME)
  const owed = res.status === 200 ? 1 : 0
  expect(after.restart_time - before.restart_time).toBe(owed)
  expect(back.pm2_info.restart_count).toBe(after.restart_time)
  expect(after.status).toBe('online')
  return { commanded: res.status === 200, restarts: after.restart_time - before.restart_time, state: res.status === 200 ? 'completed' : null }
}

const until = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe(`a restart commanded just as the connection drops (${HEAVY_RUNTIME} hub, real pm2)`, () => {
  const rounds: Record<string, Outcome> = {}

  it('the command is lost in transit: the hub sends it again when the same process is back', async () => {
    rounds['lost in transit'] = await race(async (command) => {
      proxy.freeze()
      const res = await command()
      proxy.thaw()
      proxy.cut()
      return res
    })
    expect(rounds['lost in transit'].commanded).toBe(true)
  })

  it('the sidecar got the command but its goodbye was lost: the new process completes the restart', async () => {
    rounds['goodbye lost'] = await race(async (command) => {
      proxy.freezeToHub()
      return command()
    })
    expect(rounds['goodbye lost'].commanded).toBe(true)
  })

  it.each(Array.from({ length: sizes.raceRounds }, (_, i) => [-10, 0, 3, 10, 30, 100, -2, 1][i % 8]))(
    'the connection is cut %i ms after the command (negative: before)',
    async (offset) => {
      rounds[`cut at ${offset} ms`] = await race(async (command) => {
        if (offset < 0) {
          proxy.cut()
          await until(-offset)
          return command()
        }
        const sent = command()
        await until(offset)
        proxy.cut()
        return sent
      })
    },
  )

  it('records the rounds', async () => {
    const all = Object.values(rounds)
    expect(all.every((r) => r.restarts === (r.commanded ? 1 : 0))).toBe(true)
    await recordFigures(`restart-race-${HEAVY_RUNTIME}`, {
      rounds: all.length, commanded: all.filter((r) => r.commanded).length, refused_404: all.filter((r) => !r.commanded).length,
      lost: 0, done_twice: all.filter((r) => r.restarts > 1).length, by_round: rounds,
    })
  })
})
