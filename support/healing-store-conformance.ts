/**
 * One suite for every HealingStore (hub/healing/healing-store.ts): one hub's memory
 * (test/unit/healing-store-memory.test.ts) and the cluster's rows (test/pg/healing-store.test.ts)
 * run the same cases, so the two cannot drift: the paused flag, one request per agent (an
 * overdue restart replaces a memory one, never the other way), what waits and what holds an
 * agent out of dispatch, crashes counted and judged into a quarantine and its lift, and a
 * decider step's requests, restart, escalation and drops. The store counts; the rules judge
 * (healing-rules.ts), passed in as HealingPolicy's.
 */
import { describe, expect, it } from 'vitest'
import { healingDetail, isCrashLoop } from '../hub/healing/healing-rules.ts'
import { resolveHealingSettings, type HealingSettings } from '../hub/healing/healing-settings.ts'
import type { HealingStep, HealingStore } from '../hub/healing/healing-store.ts'

export interface HealingStoreUnderTest {
  store: HealingStore
  /** The agent connects where the store's decider runs, supervised by pm2. */
  connect(agentId: string): Promise<void>
  /** The agent's connection closes. */
  disconnect(agentId: string): Promise<void>
}

export interface HealingStoreFactory {
  /** An empty store of its own, counting with `settings`. */
  fresh(settings: HealingSettings): Promise<HealingStoreUnderTest>
}

const NO_BUDGET_USED = { inFlight: false, recentRestarts: 0, cooling: false, escalatedInWindow: false }

export function describeHealingStore(name: string, factory: HealingStoreFactory): void {
  describe(`healing store: ${name}`, () => {
    const settings = resolveHealingSettings({ crashLimit: 2, windowS: 600 })
    const fresh = () => factory.fresh(settings)
    const crashes = (store: HealingStore, agentId: string, actionId: string, restarts = 1) => store.crashesSeen(agentId, restarts, actionId,
      (n, paused) => isCrashLoop(settings, n, paused), (n) => healingDetail.crashLoop(settings, n))
    /** One decider step doing `fn`; the store's answer (null: not the decider). */
    const decide = <T>(store: HealingStore, fn: (step: HealingStep) => Promise<T>) => store.decide(fn)

    it('keeps the paused flag', async () => {
      const { store } = await fresh()
      expect(await store.paused()).toBe(false)
      await store.setPaused(true)
      expect(await store.paused()).toBe(true)
      await store.setPaused(false)
      expect(await store.paused()).toBe(false)
    })

    it('keeps one request per agent: an overdue restart replaces a memory one, never the other way', async () => {
      const { store, connect } = await fresh()
      await connect('a')
      expect(await store.hasWork()).toBe(false)
      expect(await store.fileRequest('a', 'memory', 'rss 600 MB')).toBe(true)
      expect(await store.fileRequest('a', 'memory', 'rss 700 MB')).toBe(false)
      expect(await store.waitingOverdue()).toEqual(new Set())
      expect(await store.fileRequest('a', 'task_overdue', 'task t-1')).toBe(true)
      expect(await store.fileRequest('a', 'memory', 'rss 800 MB')).toBe(false)
      expect(await store.fileRequest('a', 'task_overdue', 'task t-2')).toBe(false)
      expect([await store.hasRequest('a'), await store.hasRequest('b'), await store.hasWork()]).toEqual([true, false, true])
      expect(await store.waitingOverdue()).toEqual(new Set(['a']))
    })

    it('drops a memory request when memory is back under the limit, never an overdue one', async () => {
      const { store, connect } = await fresh()
      await connect('a')
      await connect('b')
      await store.fileRequest('a', 'memory', 'rss 600 MB')
      await store.fileRequest('b', 'task_overdue', 'task t-1')
      await store.dropMemoryRequest('a')
      await store.dropMemoryRequest('b')
      expect([await store.hasRequest('a'), await store.hasRequest('b')]).toEqual([false, true])
    })

    it('counts crashes to a quarantine, drops the waiting request, and lifts it once', async () => {
      const { store, connect } = await fresh()
      await connect('a')
      await store.fileRequest('a', 'memory', 'rss 600 MB')
      expect(await crashes(store, 'a', 'q-1')).toBeNull()
      expect(await store.hasRequest('a')).toBe(false)
      const quarantine = await crashes(store, 'a', 'q-2')
      expect(quarantine).toMatchObject({ action_id: 'q-2', agent_id: 'a', rule: 'crash_loop', action: 'quarantine', state: 'quarantined', restart_id: null })
      expect(quarantine!.detail).toBe(healingDetail.crashLoop(settings, 2))
      // Quarantined: its restarts are not counted.
      expect(await crashes(store, 'a', 'q-3', 5)).toBeNull()
      expect((await store.actions(10)).map((a) => a.action_id)).toEqual(['q-2'])
      expect(await store.liftQuarantine('a')).toEqual(['q-2'])
      expect(await store.action('q-2')).toMatchObject({ state: 'lifted' })
      expect(await store.liftQuarantine('a')).toEqual([])
      expect(await store.liftQuarantine('nobody')).toEqual([])
      expect(await store.action('nope')).toBeNull()
    })

    it('a paused fleet counts crashes but quarantines none', async () => {
      const { store, connect } = await fresh()
      await connect('a')
      await store.setPaused(true)
      expect(await crashes(store, 'a', 'q-1', 3)).toBeNull()
      expect(await store.actions(10)).toEqual([])
    })

    it('a decider step sees the requests with their agents, overdue first, and starts a restart', async () => {
      const { store, connect, disconnect } = await fresh()
      await connect('a')
      await connect('b')
      await connect('c')
      await disconnect('c')
      await store.fileRequest('b', 'memory', 'rss 600 MB')
      await store.fileRequest('a', 'task_overdue', 'task t-1')
      await store.fileRequest('c', 'task_overdue', 'task t-2')
      const decided = await decide(store, async (step) => {
        const seen = { paused: step.paused, moved: step.moved, fleet: step.fleet, requests: step.requests }
        const started = await step.startRestart(step.requests[0], { action_id: 'r-1', restart_id: 'rs-1', mode: 'force', reason: 'task_overdue' })
        return { seen, started }
      })
      expect(decided).not.toBeNull()
      const { seen, started } = decided!.result
      expect(seen).toEqual({
        paused: false, moved: [], fleet: { inFlight: 0, rolloutRunning: false },
        requests: [
          { agent_id: 'a', rule: 'task_overdue', detail: 'task t-1', live: true, supervised: true, quarantined: false, budget: NO_BUDGET_USED },
          { agent_id: 'c', rule: 'task_overdue', detail: 'task t-2', live: false, supervised: true, quarantined: false, budget: NO_BUDGET_USED },
          { agent_id: 'b', rule: 'memory', detail: 'rss 600 MB', live: true, supervised: true, quarantined: false, budget: NO_BUDGET_USED },
        ],
      })
      expect(started).toMatchObject({ action_id: 'r-1', agent_id: 'a', rule: 'task_overdue', action: 'restart', detail: 'task t-1', restart_id: 'rs-1', state: 'commanded' })
      // Its request went with it; the restart in flight is work, and holds the agent out of dispatch.
      expect([await store.hasRequest('a'), await store.hasWork()]).toEqual([false, true])
      expect(await store.waitingOverdue()).toEqual(new Set(['a', 'c']))
      expect(await store.action('r-1')).toMatchObject({ state: 'commanded', restart_id: 'rs-1' })

      const next = await decide(store, async (step) => ({ fleet: step.fleet, requests: step.requests.map((r) => [r.agent_id, r.budget.inFlight]) }))
      expect(next!.result).toEqual({ fleet: { inFlight: 1, rolloutRunning: false }, requests: [['c', false], ['b', false]] })
    })

    it('a decider step records an escalation and drops requests by rule', async () => {
      const { store, connect } = await fresh()
      await connect('a')
      await connect('b')
      await store.fileRequest('a', 'memory', 'rss 600 MB')
      await store.fileRequest('b', 'task_overdue', 'task t-1')
      const decided = await decide(store, async (step) => {
        const escalated = await step.recordEscalation(step.requests[0], 'e-1', 'over the per-agent limit')
        await step.dropRequest('b', 'memory') // not a memory request: kept
        await step.dropRequest('a', 'memory')
        return escalated
      })
      expect(decided!.result).toMatchObject({ action_id: 'e-1', agent_id: 'b', rule: 'task_overdue', action: 'escalate', state: 'alerted', restart_id: null })
      expect([await store.hasRequest('a'), await store.hasRequest('b')]).toEqual([false, true])
      await decide(store, async (step) => step.dropRequest('b'))
      expect(await store.hasWork()).toBe(false)
      const next = await decide(store, async (step) => step.requests)
      expect(next!.result).toEqual([])
      expect((await store.actions(10)).map((a) => [a.action_id, a.state])).toEqual([['e-1', 'alerted']])
    })

    it('a paused step says so; the decider decides again after a release', async () => {
      const { store } = await fresh()
      await store.setPaused(true)
      expect((await decide(store, async (step) => step.paused))!.result).toBe(true)
      await store.releaseDecider()
      expect(await decide(store, async () => 'again')).toMatchObject({ result: 'again' })
    })
  })
}
