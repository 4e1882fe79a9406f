/**
 * The healing decider (hub/healing/healing-decider.ts) over one hub's MemoryHealingStore, on a
 * test clock, through the store's fleet seam (get, commandRestart, quarantine): the same
 * decisions the cluster's decider makes over PostgreSQL's rows, from the same rules.
 */
import { describe, expect, it } from 'vitest'
import { HealingDecider } from '../../hub/healing/healing-decider.ts'
import { MemoryHealingStore } from '../../hub/healing/memory-healing-store.ts'
import { resolveHealingSettings, type HealingSettings } from '../../hub/healing/healing-settings.ts'
import { healingDetail, isCrashLoop } from '../../hub/healing/healing-rules.ts'
import { ChangeFeed, type Change } from '../../hub/events/changes.ts'
import type { Restart } from '../../hub/agents/restart.ts'
import { silentLogger } from '../../shared/log.ts'

interface FakeAgent { agent_id: string; peer: object | null; supervised: boolean; quarantined: boolean; restart: Restart | null }

function setup(settings: Partial<HealingSettings> = {}) {
  const clock = { t: 1_000_000, now: () => clock.t }
  const agents = new Map<string, FakeAgent>()
  const s = resolveHealingSettings({ maxMemoryMb: 100, maxConcurrent: 1, cooldownS: 10, ...settings })
  let saves = 0
  let durable: Promise<void> = Promise.resolve()
  let commanded = () => {}
  const fleet = {
    get: (id: string) => agents.get(id) as never,
    quarantine: (id: string) => {
      agents.get(id)!.quarantined = true
      return agents.get(id) as never
    },
    commandRestart: (id: string, cmd: { reason: string; mode: 'graceful' | 'force'; restart_id?: string }) => {
      const rec = agents.get(id)
      if (!rec?.peer) return { ok: false as const, error: 'agent_not_connected' as const }
      const restart = { restart_id: cmd.restart_id!, reason: cmd.reason, mode: cmd.mode, state: 'commanded', error: null } as unknown as Restart
      rec.restart = restart
      commanded()
      return { ok: true as const, restart, already_pending: false }
    },
  }
  const store = new MemoryHealingStore({
    fleet, clock, settings: s, rolloutRunning: () => false, changed: () => void saves++, durable: () => durable,
  })
  let ids = 0
  const changes = new ChangeFeed(() => {})
  const seen: Change[] = []
  changes.subscribe((c) => seen.push(c))
  const decider = new HealingDecider({ store, hubId: 'h', log: silentLogger, newId: () => `id-${++ids}`, changes, settings: s, alerts: null })
  const join = (id: string) => agents.set(id, { agent_id: id, peer: {}, supervised: true, quarantined: false, restart: null })
  return {
    clock, agents, store, decider, seen, s, join,
    get saves() { return saves },
    holdSaves(p: Promise<void>) { durable = p },
    onCommand(fn: () => void) { commanded = fn },
  }
}

describe('healing on one hub: the decider over the memory store', () => {
  it('starts a memory restart within the budget, drops the refused memory one, keeps the overdue one waiting', async () => {
    const h = setup()
    h.join('a')
    h.join('b')
    h.join('c')
    await h.store.fileRequest('a', 'memory', 'rss high')
    await h.decider.step()
    expect(h.agents.get('a')!.restart).toMatchObject({ reason: 'heal:memory', mode: 'graceful' })
    await h.store.fileRequest('b', 'memory', 'rss high')
    await h.store.fileRequest('c', 'task_overdue', 'task t-1 overdue')
    await h.decider.step()
    expect(h.agents.get('b')!.restart).toBeNull()
    expect(h.agents.get('c')!.restart).toBeNull()
    expect(await h.store.waitingOverdue()).toEqual(new Set(['c']))
    expect(await h.store.fileRequest('b', 'memory', 'again')).toBe(true) // b's was dropped, c's waits

    h.agents.get('a')!.restart!.state = 'completed' // the slot frees: the overdue restart goes first
    await h.decider.step()
    expect((await h.store.actions(10)).map((a) => [a.agent_id, a.rule, a.state])).toEqual([
      ['c', 'task_overdue', 'commanded'], ['a', 'memory', 'completed'],
    ])
    expect(h.agents.get('c')!.restart).toMatchObject({ reason: 'task_overdue', mode: 'force' })
    expect(h.seen.filter((c) => c.type === 'healing')).toHaveLength(3)
  })

  it('an overdue restart held by the cooldown is due when the cooldown ends', async () => {
    const h = setup()
    h.join('w')
    await h.store.fileRequest('w', 'memory', 'rss high')
    await h.decider.step()
    h.agents.get('w')!.restart!.state = 'completed'
    await h.decider.step()
    h.agents.get('w')!.restart = null
    await h.store.fileRequest('w', 'task_overdue', 'task t-9 overdue')
    await h.decider.step()
    expect(h.agents.get('w')!.restart).toBeNull()
    expect(h.store.nextDueAt()).toBe(h.clock.t + 10_000)
    h.clock.t += 10_000
    await h.decider.step()
    expect(h.agents.get('w')!.restart).toMatchObject({ reason: 'task_overdue' })
  })

  it('quarantines a crash loop with the rules of both stores', async () => {
    const h = setup({ crashLimit: 2 })
    h.join('x')
    const check = (id: string) => h.store.crashesSeen('x', 1, id, (n, paused) => isCrashLoop(h.s, n, paused), (n) => healingDetail.crashLoop(h.s, n))
    expect(await check('q-1')).toBeNull()
    expect(await check('q-2')).toMatchObject({ action_id: 'q-2', rule: 'crash_loop', action: 'quarantine', state: 'quarantined' })
    expect(h.agents.get('x')!.quarantined).toBe(true)
    expect(await h.store.liftQuarantine('x')).toEqual(['q-2'])
    expect((await h.store.action('q-2'))?.state).toBe('lifted')
  })

  it('steps never overlap, even when commanding a restart asks for a step from inside one', async () => {
    const h = setup()
    h.join('a')
    h.join('b')
    // One hub's fleet publishes the restart's change at once, and what hears it asks for a step.
    h.onCommand(() => void h.decider.step())
    await h.store.fileRequest('a', 'memory', 'rss high')
    await h.store.fileRequest('b', 'memory', 'rss high')
    await h.decider.step()
    expect([...h.agents.values()].filter((a) => a.restart !== null)).toHaveLength(1) // max_concurrent 1
  })

  it('forgets an agent the fleet forgot: its crashes, and its restart in flight fails at the next step', async () => {
    const h = setup({ crashLimit: 2 })
    h.join('a')
    h.store.processSeen('a', { restart_count: 0, pid: 1 }, false)
    await h.store.crashesSeen('a', 1, 'q-1', (n) => n >= 2, () => 'loop')
    await h.store.fileRequest('a', 'memory', 'rss high')
    await h.decider.step()
    h.agents.delete('a')
    h.store.forget('a')
    expect(h.store.savedWatch('a')).toBeNull()
    await h.decider.step()
    expect((await h.store.actions(1))[0]).toMatchObject({ state: 'failed', detail: 'rss high; agent forgotten' })
    h.join('b')
    await h.store.fileRequest('b', 'memory', 'rss high')
    await h.decider.step()
    expect(h.agents.get('b')!.restart).not.toBeNull() // a's place in max_concurrent was given back
  })

  it('a step resolves only once its decisions are saved', async () => {
    const h = setup()
    h.join('a')
    let save!: () => void
    h.holdSaves(new Promise<void>((resolve) => (save = resolve)))
    await h.store.fileRequest('a', 'memory', 'rss high')
    let done = false
    const step = h.decider.step().then(() => (done = true))
    await new Promise((resolve) => setImmediate(resolve))
    expect(h.agents.get('a')!.restart).not.toBeNull()
    expect(done).toBe(false)
    save()
    await step
    expect(h.saves).toBeGreaterThan(0)
  })

  it('after a hub restart, a healing restart the fleet no longer holds fails at the next step', async () => {
    const h = setup()
    h.join('a')
    await h.store.fileRequest('a', 'memory', 'rss high')
    await h.decider.step()
    const saved = h.store.saved()
    const next = setup()
    next.join('a') // back, without the restart
    next.store.restore({ paused: saved.paused, actions: saved.actions.map((a) => ({ ...a })) })
    await next.decider.step()
    expect((await next.store.actions(1))[0]).toMatchObject({ state: 'failed', detail: 'rss high; restart failed: lost with the previous hub' })
  })
})
