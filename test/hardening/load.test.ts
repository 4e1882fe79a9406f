/**
 * Sustained load: 1 000 agents (the real sidecar code, see support/swarm-child.ts) connected to
 * one hub process while tasks and restarts (graceful and force) are commanded for ten minutes.
 * The hub's memory must stay under a ceiling and must not grow, and nothing may be missed: every
 * restart commanded completes exactly once, every task completes exactly once, no sidecar loses
 * its connection except to restart, no ping goes unanswered, no frame is rate limited.
 */
import { readFile } from 'node:fs/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { waitFor } from '../../support/wait.ts'
import { startSwarm, type Swarm } from './support/swarm.ts'
import { percentile, recordFigures } from './support/figures.ts'
import { HEAVY_RUNTIME, SCALE, sizes } from './support/scale.ts'

const AGENTS = sizes.loadAgents
const DURATION_MS = sizes.loadDurationMs
/** The hub's RSS never goes above this. */
const RSS_CEILING_MIB = 320
/**
 * Growth allowed from the middle third of the run to the last (medians, so a collection's
 * transient peak is not mistaken for growth). At full scale ~8 000 tasks pass between the two:
 * a leak of more than ~4 KiB per task would exceed it.
 */
const RSS_TREND_BOUND_MIB = 32

const cleanup: Array<() => Promise<void>> = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => {})
})

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN)
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))

describe(`${AGENTS} agents under sustained load for ${DURATION_MS / 1000} s (${HEAVY_RUNTIME} hub)`, () => {
  it('keeps memory within its bound and misses no restart and no task', async () => {
    const hub: HubProcess = await startHubProcess({ AGENTCOM_TASK_GRACE_MS: '60000' }, HEAVY_RUNTIME)
    cleanup.push(() => hub.stop())
    const ids = Array.from({ length: AGENTS }, (_, i) => `load-${String(i).padStart(4, '0')}`)
    const swarm: Swarm = await startSwarm({
      hubUrl: hub.wsUrl, children: 4,
      agents: await Promise.all(ids.map(async (agentId) => ({ agentId, token: await hub.agentToken(agentId) }))),
    })
    cleanup.push(() => swarm.stop())
    const connected = async () => (await hub.api('GET', '/api/admin/agents')).body.agents.filter((a: any) => a.connected).length
    await waitFor(connected, (n) => n === AGENTS, { timeoutMs: 120_000, intervalMs: 500, what: `${AGENTS} agents connected` })

    const pid = hub.child.pid!
    const memory: [number, number][] = []
    const tasks = new Map<string, { created: number; settled: any | null }>()
    const restarts = new Map<string, { agent: string; mode: string; at: number }>()
    const lastRestart = new Map<string, number>()
    let alreadyPending = 0
    const postLatency: number[] = []

    async function submitTask(): Promise<void> {
      const pinned = Math.random() < 0.1 ? ids[Math.floor(Math.random() * AGENTS)] : undefined
      const sent = Date.now()
      const res = await hub.api('POST', '/api/admin/tasks', { input: { sleep_ms: 50 + Math.floor(Math.random() * 1950) }, ...(pinned ? { agent_id: pinned } : {}) })
      postLatency.push(Date.now() - sent)
      expect(res.status).toBe(201)
      tasks.set(res.body.task_id, { created: res.body.created_at, settled: null })
    }

    async function commandRestart(): Promise<void> {
      const agentId = ids[Math.floor(Math.random() * AGENTS)]
      if (Date.now() - (lastRestart.get(agentId) ?? 0) < 10_000) return
      lastRestart.set(agentId, Date.now())
      const mode = Math.random() < 0.2 ? 'force' : 'graceful'
      const res = await hub.api('POST', `/api/admin/agents/${agentId}/restart`, { reason: 'load', mode })
      // An agent restarting right now has no live connection: that is a correct refusal, not a miss.
      if (res.status === 404) return
      expect(res.status).toBe(200)
      if (res.body.already_pending) alreadyPending++
      else restarts.set(res.body.restart_id, { agent: agentId, mode, at: Date.now() })
    }

    /** Reads every unsettled task, before the hub's retention (10 000 finished) forgets it. */
    async function checkTasks(): Promise<void> {
      const open = [...tasks].filter(([, t]) => t.settled === null).map(([id]) => id)
      for (let i = 0; i < open.length; i += 50) {
        await Promise.all(open.slice(i, i + 50).map(async (id) => {
          const res = await hub.api('GET', `/api/admin/tasks/${id}`)
          expect(res.status).toBe(200)
          if (res.body.status === 'completed' || res.body.status === 'failed') tasks.get(id)!.settled = res.body
        }))
      }
    }

    const started = Date.now()
    let checker = Promise.resolve()
    let taskCredit = 0
    let restartCredit = 0
    for (let tick = 0; Date.now() - started < DURATION_MS; tick++) {
      taskCredit += sizes.loadTasksPerS / 10
      restartCredit += sizes.loadRestartsPerS / 10
      const batch: Promise<void>[] = []
      for (; taskCredit >= 1; taskCredit--) batch.push(submitTask())
      for (; restartCredit >= 1; restartCredit--) batch.push(commandRestart())
      await Promise.all(batch)
      if (tick % 20 === 0) {
        memory.push([Date.now() - started, await rssKiB(pid)])
        checker = checker.then(checkTasks)
      }
      await sleep(started + (tick + 1) * 100 - Date.now())
    }
    const loadEnded = Date.now()
    await checker

    // Let everything in flight finish.
    await waitFor(async () => {
      await checkTasks()
      return [...tasks.values()].filter((t) => t.settled === null).length
    }, (n) => n === 0, { timeoutMs: 120_000, intervalMs: 500, what: 'every task settled' })
    const restartLines = () => hub.logs.filter((l) => l.includes('"msg":"restart completed"') || l.includes('"msg":"restart failed"')).map((l) => JSON.parse(l))
    await waitFor(async () => restartLines().filter((l) => restarts.has(l.restart_id)).length, (n) => n >= restarts.size, { timeoutMs: 180_000, intervalMs: 500, what: 'every restart settled' })
    await waitFor(connected, (n) => n === AGENTS, { timeoutMs: 60_000, what: 'every agent back' })
    memory.push([Date.now() - started, await rssKiB(pid)])

    const { agents: logs, problems } = await swarm.report()
    const ledger = await swarm.ledger()
    expect(problems).toEqual([])
    expect(hub.child.exitCode).toBe(null)

    const lines = restartLines().filter((l) => restarts.has(l.restart_id))
    const exits = logs.flatMap((a) => a.exits.map(([, id]) => id))
    const settled = [...tasks].map(([id, t]) => ({ id, ...t.settled }))
    // Tasks a sidecar reported interrupted (a force restart cut the run, or it was offered while the
    // sidecar was busy or restarting): the hub ran them again.
    const cut = new Set(logs.flatMap((a) => a.sent.filter(([, type, , written]) => type === 'task_interrupted' && written).map(([, , id]) => id)))
    const endedTwice = settled.filter((t) => (ledger.get(t.id)?.ends ?? 0) > 1)
    const closes = logs.flatMap((a) => a.closes.map(([, code]) => code))
    // Whatever breaks exactly-once, with the trail to explain it: the hub's lines and each agent's events.
    const anomalies = settled
      .filter((t) => (!cut.has(t.id) && JSON.stringify(ledger.get(t.id)) !== '{"starts":1,"ends":1}') || ledger.get(t.id)!.starts > t.attempts)
      .slice(0, 5)
      .map((t) => ({
        task: { id: t.id, attempts: t.attempts, agent_id: t.agent_id, created: t.created_at - started, ledger: ledger.get(t.id) },
        hub: hub.logs.filter((l) => l.includes(t.id)),
        agents: logs.filter((a) => a.assigns.some(([, id]) => id === t.id)).map((a) => ({
          agent: a.agentId,
          assigns: a.assigns.filter(([, id]) => id === t.id).map(([at]) => at - started),
          sent: a.sent.filter(([, , id]) => id === t.id).map(([at, type, , written]) => [at - started, type, written]),
          acks: a.acks.filter(([, id]) => id === t.id).map(([at]) => at - started),
          cancels: a.cancels.filter(([, id]) => id === t.id).map(([at]) => at - started),
          identified: a.identified.map((at) => at - started).filter((at) => at > t.created_at - started - 5000 && at < t.updated_at - started + 5000),
          exits: a.exits.map(([at, id]) => [at - started, id]).filter(([at]) => (at as number) > t.created_at - started - 5000 && (at as number) < t.updated_at - started + 5000),
        })),
      }))
    const median = (samples: [number, number][]) => percentile(samples.map(([, kib]) => kib), 50) / 1024
    const middleMiB = median(memory.filter(([t]) => t >= DURATION_MS / 3 && t < (2 * DURATION_MS) / 3))
    const lastMiB = median(memory.filter(([t]) => t >= (2 * DURATION_MS) / 3))
    const peakMiB = Math.max(...memory.map(([, kib]) => kib)) / 1024
    const trendMiB = lastMiB - middleMiB
    const latency = settled.map((t) => t.updated_at - t.created_at)
    const restartMs = lines.map((l) => Date.parse(l.time) - restarts.get(l.restart_id)!.at)
    await recordFigures(`load-${HEAVY_RUNTIME}`, {
      scale: SCALE, agents: AGENTS, duration_s: DURATION_MS / 1000,
      tasks: tasks.size, tasks_per_s: +(tasks.size / ((loadEnded - started) / 1000)).toFixed(1),
      tasks_completed: settled.filter((t) => t.status === 'completed').length,
      tasks_cut_by_force_restart_and_run_again: settled.filter((t) => cut.has(t.id)).length,
      tasks_whose_cut_run_had_already_done_its_work: endedTwice.length,
      tasks_run_twice_without_a_force_restart: endedTwice.filter((t) => !cut.has(t.id)).length,
      task_end_to_end_ms: { p50: percentile(latency, 50), p99: percentile(latency, 99), max: Math.max(...latency) },
      post_task_ms: { p50: percentile(postLatency, 50), p99: percentile(postLatency, 99) },
      restarts: restarts.size, restarts_force: [...restarts.values()].filter((r) => r.mode === 'force').length,
      restart_commanded_to_completed_ms: { p50: percentile(restartMs, 50), p99: percentile(restartMs, 99), max: Math.max(...restartMs) },
      restarts_already_pending: alreadyPending,
      missed: {
        restarts: restarts.size - lines.filter((l) => l.msg === 'restart completed').length,
        tasks: settled.filter((t) => t.status !== 'completed').length,
        pings: logs.flatMap((a) => a.deadHub).length,
      },
      closes_other_than_restart: closes.filter((code) => code !== 1012).length,
      hub_rss_mib: {
        at_start: Math.round(memory[0][1] / 1024), median_middle_third: Math.round(middleMiB), median_last_third: Math.round(lastMiB),
        peak: Math.round(peakMiB), end: Math.round(memory[memory.length - 1][1] / 1024),
      },
      hub_rss_trend_mib: +trendMiB.toFixed(1), trend_bound_mib: RSS_TREND_BOUND_MIB, ceiling_mib: RSS_CEILING_MIB,
      anomalies,
      rss_samples_mib: memory.filter((_, i) => i % Math.max(1, Math.floor(memory.length / 20)) === 0).map(([t, kib]) => [Math.round(t / 1000), Math.round(kib / 1024)]),
    })

    // Restarts: each commanded one completed exactly once, and its sidecar exited once for it.
    expect(lines.filter((l) => l.msg !== 'restart completed')).toEqual([])
    expect(new Set(lines.map((l) => l.restart_id)).size).toBe(restarts.size)
    expect(lines.length).toBe(restarts.size)
    expect(exits.filter((id) => id === null || !restarts.has(id))).toEqual([])
    expect(exits.length).toBe(restarts.size)
    expect(new Set(exits).size).toBe(restarts.size)

    // Tasks: each completed once in the hub. One no force restart touched ran exactly once; one a
    // force restart cut short ran again (the contract's "run again"), each run an attempt.
    expect(settled.filter((t) => t.status !== 'completed').map((t) => `${t.id} ${t.status} ${t.error}`)).toEqual([])
    expect(settled.filter((t) => !cut.has(t.id) && JSON.stringify(ledger.get(t.id)) !== '{"starts":1,"ends":1}').map((t) => `${t.id} ${JSON.stringify(ledger.get(t.id))}`)).toEqual([])
    expect(settled.filter((t) => cut.has(t.id) && !((ledger.get(t.id)?.ends ?? 0) >= 1)).map((t) => `${t.id} ${JSON.stringify(ledger.get(t.id))}`)).toEqual([])
    expect(settled.filter((t) => ledger.get(t.id)!.starts > t.attempts).map((t) => `${t.id} starts ${ledger.get(t.id)!.starts} attempts ${t.attempts}`)).toEqual([])

    // Connections: only restarts closed them; every ping answered; no frame refused.
    expect(closes.filter((code) => code !== 1012)).toEqual([])
    expect(logs.flatMap((a) => a.deadHub)).toEqual([])
    expect(logs.flatMap((a) => a.warnings).filter((w) => w.includes('rate_limited') || w.includes('hub reported an error'))).toEqual([])

    // Memory: under the ceiling throughout, and no growth from the middle of the run to its end.
    expect(peakMiB).toBeLessThanOrEqual(RSS_CEILING_MIB)
    expect(trendMiB).toBeLessThanOrEqual(RSS_TREND_BOUND_MIB)
  })
})
