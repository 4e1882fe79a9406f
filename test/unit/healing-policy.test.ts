/**
 * The healing policy on a fake clock: every rule (crash loop, memory, task overdue) and every
 * limit of the budget (concurrency, rollout, cooldown, per-agent limit and escalation, pause),
 * the history's bound and order, and the state of an action following its restart.
 */
import { describe, expect, it } from 'vitest'
import { HealingPolicy, type HealingDecision, type HealingOutput } from '../../hub/healing/healing-policy.ts'
import { resolveHealingSettings, type HealingSettings } from '../../hub/healing/healing-settings.ts'

const MB = 1024 * 1024
const S = 1000
const T0 = 1_700_000_000_000

function setup(settings: Partial<HealingSettings> = {}) {
  const clock = { t: T0, now: () => clock.t }
  let ids = 0
  const policy = new HealingPolicy({ clock, newId: () => `h-${++ids}`, settings })
  const pm2 = new Map<string, { restart_count: number; pid: number }>()
  let restarts = 0
  return {
    clock, policy,
    advance: (seconds: number) => { clock.t += seconds * S },
    /** First identify: the baseline every later one is compared with. */
    join(agentId: string, supervised = true) {
      pm2.set(agentId, { restart_count: 0, pid: 1000 })
      return policy.agentIdentified(agentId, { supervised, pm2: supervised ? { ...pm2.get(agentId)! } : null, restartCommanded: false })
    },
    /** pm2 restarted the process (`times` times) and it identified again. */
    restarted(agentId: string, restartCommanded = false, times = 1) {
      const p = pm2.get(agentId)!
      p.restart_count += times
      p.pid += 1
      return policy.agentIdentified(agentId, { supervised: true, pm2: { ...p }, restartCommanded })
    },
    /** Carries out a restart decision the way the fleet would, and returns its restart_id. */
    command(decision: HealingDecision, state: 'commanded' | 'deferred' = 'commanded') {
      const restartId = `r-${++restarts}`
      policy.restartCommanded(decision.action_id, restartId, state)
      return restartId
    },
  }
}

type Env = ReturnType<typeof setup>

function only(out: HealingOutput): HealingDecision {
  expect(out.decisions).toHaveLength(1)
  return out.decisions[0]
}

const over = (env: Env, agentId: string, mb = 600) => env.policy.statsReported(agentId, mb * MB)
/** Two reports above the limit in a row: what the memory rule needs. */
function overTwice(env: Env, agentId: string): HealingOutput {
  over(env, agentId)
  return over(env, agentId)
}
/** A memory restart decided, commanded and completed now. */
function healByMemory(env: Env, agentId: string): void {
  const restartId = env.command(only(overTwice(env, agentId)))
  env.policy.restartChanged(restartId, 'completed')
}

describe('settings', () => {
  it('spreads the defaults and names a bad setting', () => {
    expect(resolveHealingSettings()).toEqual({ crashLimit: 3, windowS: 600, maxMemoryMb: null, maxConcurrent: 1, cooldownS: 300, maxPerAgent: 3 })
    expect(() => resolveHealingSettings({ maxConcurrent: 0 })).toThrow(/^AGENTCOM_HEAL_MAX_CONCURRENT must be an integer from 1 to 10000, got 0$/)
    expect(() => resolveHealingSettings({ windowS: 1.5 })).toThrow(/^AGENTCOM_HEAL_WINDOW_S must be an integer from 1 to 604800, got 1.5$/)
  })

  it('shows the policy in the view', () => {
    const env = setup({ maxMemoryMb: 512 })
    expect(env.policy.view()).toEqual({
      paused: false,
      policy: { crash_limit: 3, window_s: 600, max_memory_mb: 512, max_concurrent: 1, cooldown_s: 300, max_per_agent: 3 },
      actions: [],
    })
  })
})

describe('crash loop', () => {
  it('quarantines at exactly the crash limit, not before, and alerts once', () => {
    const env = setup()
    env.join('a')
    expect(env.restarted('a').decisions).toEqual([])
    env.advance(10)
    expect(env.restarted('a').decisions).toEqual([])
    expect(env.policy.isQuarantined('a')).toBe(false)
    env.advance(10)
    const out = env.restarted('a')
    expect(out.decisions).toEqual([{ action: 'quarantine', action_id: 'h-1', agent_id: 'a', rule: 'crash_loop' }])
    expect(out.alerts).toEqual([{ type: 'agent_quarantined', agent_id: 'a', rule: 'crash_loop', detail: '3 unplanned restarts within 600 s', at: T0 + 20 * S }])
    expect(out.actions).toEqual([{
      action_id: 'h-1', agent_id: 'a', rule: 'crash_loop', action: 'quarantine', detail: '3 unplanned restarts within 600 s',
      restart_id: null, state: 'quarantined', at: T0 + 20 * S, updated_at: T0 + 20 * S,
    }])
    expect(env.policy.isQuarantined('a')).toBe(true)
  })

  it('counts a new pid or a higher restart count, not a reconnect of the same process nor a commanded restart', () => {
    const env = setup({ crashLimit: 1 })
    env.join('a')
    const same = { supervised: true, pm2: { restart_count: 0, pid: 1000 }, restartCommanded: false }
    expect(env.policy.agentIdentified('a', same).decisions).toEqual([])
    expect(env.restarted('a', true).decisions).toEqual([])
    expect(env.policy.isQuarantined('a')).toBe(false)
    // pm2 reset: the count went down, but the pid is new.
    const out = env.policy.agentIdentified('a', { supervised: true, pm2: { restart_count: 0, pid: 5000 }, restartCommanded: false })
    expect(out.decisions.map((d) => d.action)).toEqual(['quarantine'])
  })

  it('counts pm2 restarts the hub never saw identify', () => {
    const env = setup()
    env.join('a')
    expect(env.restarted('a', false, 2).decisions).toEqual([])
    expect(env.restarted('a').decisions.map((d) => d.action)).toEqual(['quarantine'])
  })

  it('forgets crashes a full window old', () => {
    const env = setup()
    env.join('a')
    env.restarted('a')
    env.advance(1)
    env.restarted('a')
    env.advance(599)
    // The first crash is now 600 s old: two remain in the window.
    expect(env.restarted('a').decisions).toEqual([])
    env.advance(1)
    // The second is 600 s old too; the third, and this one, make two.
    expect(env.restarted('a').decisions).toEqual([])
    expect(env.restarted('a').decisions.map((d) => d.action)).toEqual(['quarantine'])
  })

  it('leaves a quarantined agent alone until it is resumed, then counts from zero', () => {
    const env = setup({ crashLimit: 2, maxMemoryMb: 100, cooldownS: 0 })
    env.join('a')
    env.restarted('a')
    expect(only(env.restarted('a')).action).toBe('quarantine')
    expect(env.restarted('a').decisions).toEqual([])
    expect(overTwice(env, 'a').decisions).toEqual([])
    expect(env.policy.taskOverdue('a', 'task t-1').decisions).toEqual([])
    expect(env.policy.nextDueAt()).toBe(null)

    const lifted = env.policy.agentResumed('a')
    expect(lifted.actions.map((a) => [a.action_id, a.action, a.state])).toEqual([['h-1', 'quarantine', 'lifted'], ['h-2', 'restart', 'commanded']])
    // The overdue restart that waited out the quarantine goes at once.
    expect(lifted.decisions).toEqual([{ action: 'restart', action_id: 'h-2', agent_id: 'a', rule: 'task_overdue', mode: 'force', reason: 'task_overdue' }])
    expect(env.policy.isQuarantined('a')).toBe(false)
    expect(env.restarted('a', true).decisions).toEqual([])
    expect(env.restarted('a').decisions).toEqual([])
    expect(only(env.restarted('a')).action).toBe('quarantine')
  })

  it('does not quarantine while healing is paused', () => {
    const env = setup()
    env.join('a')
    env.policy.pause()
    for (let i = 0; i < 3; i++) expect(env.restarted('a').decisions).toEqual([])
    expect(env.policy.isQuarantined('a')).toBe(false)
    env.policy.resume()
    expect(only(env.restarted('a')).action).toBe('quarantine')
  })
})

describe('memory', () => {
  it('is off without a limit', () => {
    const env = setup()
    env.join('a')
    for (let i = 0; i < 5; i++) expect(env.policy.statsReported('a', 64 * 1024 * MB).decisions).toEqual([])
    expect(env.policy.view().actions).toEqual([])
  })

  it('restarts gracefully after two reports in a row above the limit', () => {
    const env = setup({ maxMemoryMb: 512 })
    env.join('a')
    expect(env.policy.statsReported('a', 513 * MB).decisions).toEqual([])
    const out = env.policy.statsReported('a', 700 * MB)
    expect(out.decisions).toEqual([{ action: 'restart', action_id: 'h-1', agent_id: 'a', rule: 'memory', mode: 'graceful', reason: 'heal:memory' }])
    expect(out.actions[0]).toMatchObject({ rule: 'memory', action: 'restart', state: 'commanded', restart_id: null, detail: 'rss 700 MB above 512 MB in two stats reports in a row' })
    expect(out.alerts).toEqual([])
  })

  it('needs the two reports in a row: above, below, above is nothing; at the limit is not above', () => {
    const env = setup({ maxMemoryMb: 512 })
    env.join('a')
    expect(env.policy.statsReported('a', 600 * MB).decisions).toEqual([])
    expect(env.policy.statsReported('a', 100 * MB).decisions).toEqual([])
    expect(env.policy.statsReported('a', 600 * MB).decisions).toEqual([])
    expect(env.policy.statsReported('a', 512 * MB).decisions).toEqual([])
    expect(env.policy.statsReported('a', 600 * MB).decisions).toEqual([])
    expect(only(env.policy.statsReported('a', 600 * MB)).rule).toBe('memory')
  })

  it('never restarts an agent pm2 does not supervise', () => {
    const env = setup({ maxMemoryMb: 512 })
    env.join('a', false)
    expect(overTwice(env, 'a').decisions).toEqual([])
    expect(env.policy.taskOverdue('a', 'task t-1').decisions).toEqual([])
    expect(env.policy.isWaitingForRestart('a')).toBe(false)
  })
})

describe('budget', () => {
  it('has at most max_concurrent healing restarts in flight in the whole fleet', () => {
    const env = setup({ maxMemoryMb: 512 })
    for (const id of ['a', 'b', 'c']) env.join(id)
    const restartId = env.command(only(overTwice(env, 'a')))
    expect(overTwice(env, 'b').decisions).toEqual([])
    env.policy.restartChanged(restartId, 'deferred')
    expect(over(env, 'b').decisions).toEqual([])
    env.policy.restartChanged(restartId, 'completed')
    expect(only(over(env, 'b')).agent_id).toBe('b')
    expect(overTwice(env, 'c').decisions).toEqual([])
  })

  it('allows max_concurrent of them at once', () => {
    const env = setup({ maxMemoryMb: 512, maxConcurrent: 2 })
    for (const id of ['a', 'b', 'c']) env.join(id)
    expect(only(overTwice(env, 'a')).agent_id).toBe('a')
    expect(only(overTwice(env, 'b')).agent_id).toBe('b')
    expect(overTwice(env, 'c').decisions).toEqual([])
  })

  it('starts none while a rollout runs', () => {
    const env = setup({ maxMemoryMb: 512 })
    env.join('a')
    env.policy.setRolloutRunning(true)
    expect(overTwice(env, 'a').decisions).toEqual([])
    expect(over(env, 'a').decisions).toEqual([])
    expect(env.policy.setRolloutRunning(false).decisions).toEqual([])
    expect(only(over(env, 'a')).rule).toBe('memory')
  })

  it('waits out the cooldown from the end of the agent\'s last healing restart', () => {
    const env = setup({ maxMemoryMb: 512 })
    env.join('a')
    env.join('b')
    const restartId = env.command(only(overTwice(env, 'a')))
    env.advance(100)
    env.policy.restartChanged(restartId, 'completed')
    env.advance(299)
    expect(overTwice(env, 'a').decisions).toEqual([])
    // Another agent has no cooldown of its own.
    const other = env.command(only(overTwice(env, 'b')))
    env.policy.restartChanged(other, 'completed')
    env.advance(1)
    expect(only(over(env, 'a')).agent_id).toBe('a')
  })

  it('restarts an agent at most max_per_agent times per window, then escalates once per window', () => {
    const env = setup({ maxMemoryMb: 512, cooldownS: 0 })
    env.join('a')
    healByMemory(env, 'a')
    env.advance(100)
    healByMemory(env, 'a')
    env.advance(100)
    healByMemory(env, 'a')
    env.advance(100)
    const out = overTwice(env, 'a')
    expect(out.decisions).toEqual([{ action: 'escalate', action_id: 'h-4', agent_id: 'a', rule: 'memory' }])
    expect(out.alerts).toEqual([{
      type: 'heal_escalated', agent_id: 'a', rule: 'memory', at: T0 + 300 * S,
      detail: '3 healing restarts within 600 s; memory wants another: rss 600 MB above 512 MB in two stats reports in a row',
    }])
    expect(out.actions.map((a) => [a.action, a.state])).toEqual([['escalate', 'alerted']])
    env.advance(250)
    expect(overTwice(env, 'a').decisions).toEqual([])
    // 600 s after the first restart, one of the three leaves the window.
    env.advance(50)
    expect(only(over(env, 'a')).action).toBe('restart')
  })

  it('escalates again only once the last escalation is a window old', () => {
    const env = setup({ maxMemoryMb: 512, cooldownS: 0, maxPerAgent: 1 })
    env.join('a')
    healByMemory(env, 'a')
    env.advance(10)
    expect(only(overTwice(env, 'a')).action).toBe('escalate')
    env.advance(590)
    env.policy.restartChanged(env.command(only(over(env, 'a'))), 'completed')
    env.advance(5)
    expect(overTwice(env, 'a').decisions).toEqual([])
    env.advance(5)
    const again = over(env, 'a')
    expect(again.decisions.map((d) => d.action)).toEqual(['escalate'])
    expect(again.alerts.map((a) => [a.type, a.at])).toEqual([['heal_escalated', T0 + 610 * S]])
    expect(env.policy.view().actions.map((a) => a.action)).toEqual(['escalate', 'restart', 'escalate', 'restart'])
  })

  it('starts no healing action while paused', () => {
    const env = setup({ maxMemoryMb: 512, cooldownS: 0, maxPerAgent: 1 })
    env.join('a')
    env.join('b')
    healByMemory(env, 'a')
    env.policy.pause()
    expect(env.policy.view().paused).toBe(true)
    expect(overTwice(env, 'a').decisions).toEqual([])
    expect(overTwice(env, 'b').decisions).toEqual([])
    expect(env.policy.taskOverdue('b', 'task t-1').decisions).toEqual([])
    expect(env.policy.nextDueAt()).toBe(null)
    const resumed = env.policy.resume()
    expect(resumed.decisions.map((d) => [d.action, d.agent_id, d.rule])).toEqual([['restart', 'b', 'task_overdue']])
    expect(env.policy.view().paused).toBe(false)
    expect(over(env, 'a').decisions.map((d) => d.action)).toEqual(['escalate'])
  })
})

describe('restarts and their actions', () => {
  it('follows the restart by restart_id until it is over', () => {
    const env = setup({ maxMemoryMb: 512 })
    env.join('a')
    const decision = only(overTwice(env, 'a'))
    const commanded = env.policy.restartCommanded(decision.action_id, 'r-9', 'deferred')
    expect(commanded.actions.map((a) => [a.restart_id, a.state])).toEqual([['r-9', 'deferred']])
    expect(env.policy.restartChanged('r-other', 'completed')).toEqual({ decisions: [], alerts: [], actions: [] })
    for (const state of ['commanded', 'restarting', 'completed'] as const) {
      expect(env.policy.restartChanged('r-9', state).actions.map((a) => a.state)).toEqual([state])
    }
    expect(env.policy.view().actions.map((a) => [a.action_id, a.restart_id, a.state])).toEqual([['h-1', 'r-9', 'completed']])
    // Over: a late change of the same restart no longer moves it.
    expect(env.policy.restartChanged('r-9', 'failed').actions).toEqual([])
  })

  it('alerts heal_failed when a healing restart fails, and the cooldown still applies', () => {
    const env = setup({ maxMemoryMb: 512 })
    env.join('a')
    const restartId = env.command(only(overTwice(env, 'a')))
    const out = env.policy.restartChanged(restartId, 'failed', 'timeout')
    const detail = 'rss 600 MB above 512 MB in two stats reports in a row; restart failed: timeout'
    expect(out.alerts).toEqual([{ type: 'heal_failed', agent_id: 'a', rule: 'memory', detail, at: T0 }])
    expect(out.actions.map((a) => [a.state, a.detail])).toEqual([['failed', detail]])
    expect(overTwice(env, 'a').decisions).toEqual([])
  })

  it('gives the budget back when the restart could not be commanded', () => {
    const env = setup({ maxMemoryMb: 512, maxPerAgent: 1 })
    env.join('a')
    const decision = only(overTwice(env, 'a'))
    const out = env.policy.restartNotCommanded(decision.action_id, 'agent_not_connected')
    expect(out.actions.map((a) => [a.state, a.detail])).toEqual([['failed', 'rss 600 MB above 512 MB in two stats reports in a row; not commanded: agent_not_connected']])
    expect(out.alerts).toEqual([])
    // No cooldown, not counted against the agent's limit of one.
    expect(only(overTwice(env, 'a')).action).toBe('restart')
  })

  it('forgets an agent with everything it held', () => {
    const env = setup({ maxMemoryMb: 512, crashLimit: 1 })
    env.join('a')
    env.join('b')
    env.command(only(overTwice(env, 'a')))
    const out = env.policy.forgetAgent('a')
    expect(out.actions.map((a) => [a.agent_id, a.state])).toEqual([['a', 'failed']])
    expect(only(overTwice(env, 'b')).agent_id).toBe('b')
    // Back after being forgotten: its first identify is a baseline again, not a crash.
    expect(env.policy.agentIdentified('a', { supervised: true, pm2: { restart_count: 5, pid: 7000 }, restartCommanded: false }).decisions).toEqual([])
    expect(env.policy.isQuarantined('a')).toBe(false)
  })
})

describe('task overdue', () => {
  it('force-restarts the agent at once when the budget allows', () => {
    const env = setup()
    env.join('a')
    const out = env.policy.taskOverdue('a', 'task t-1 not heard of in 90 s')
    expect(out.decisions).toEqual([{ action: 'restart', action_id: 'h-1', agent_id: 'a', rule: 'task_overdue', mode: 'force', reason: 'task_overdue' }])
    expect(out.actions[0]).toMatchObject({ rule: 'task_overdue', action: 'restart', detail: 'task t-1 not heard of in 90 s' })
    expect(env.policy.isWaitingForRestart('a')).toBe(false)
  })

  it('waits for a free slot, then goes before any memory restart', () => {
    const env = setup({ maxMemoryMb: 512 })
    for (const id of ['a', 'b', 'c']) env.join(id)
    const restartId = env.command(only(overTwice(env, 'a')))
    expect(env.policy.taskOverdue('b', 'task t-1').decisions).toEqual([])
    expect(env.policy.isWaitingForRestart('b')).toBe(true)
    overTwice(env, 'c')
    const done = env.policy.restartChanged(restartId, 'completed')
    expect(done.decisions.map((d) => [d.agent_id, d.rule])).toEqual([['b', 'task_overdue']])
    expect(env.policy.isWaitingForRestart('b')).toBe(false)
    expect(over(env, 'c').decisions).toEqual([])
  })

  it('waits out a rollout', () => {
    const env = setup()
    env.join('a')
    env.policy.setRolloutRunning(true)
    expect(env.policy.taskOverdue('a', 'task t-1').decisions).toEqual([])
    expect(env.policy.setRolloutRunning(false).decisions.map((d) => d.rule)).toEqual(['task_overdue'])
  })

  it('waits out the cooldown and says when, for the caller\'s timer', () => {
    const env = setup()
    env.join('a')
    const first = env.command(only(env.policy.taskOverdue('a', 'task t-1')))
    env.policy.restartChanged(first, 'completed')
    env.advance(10)
    expect(env.policy.taskOverdue('a', 'task t-2').decisions).toEqual([])
    expect(env.policy.nextDueAt()).toBe(T0 + 300 * S)
    env.advance(289)
    expect(env.policy.tick().decisions).toEqual([])
    env.advance(1)
    expect(env.policy.tick().decisions.map((d) => d.rule)).toEqual(['task_overdue'])
    expect(env.policy.nextDueAt()).toBe(null)
  })

  it('past the per-agent limit escalates once, then restarts when the window lets it', () => {
    const env = setup({ cooldownS: 0, maxPerAgent: 1 })
    env.join('a')
    env.policy.restartChanged(env.command(only(env.policy.taskOverdue('a', 'task t-1'))), 'completed')
    env.advance(60)
    const out = env.policy.taskOverdue('a', 'task t-2')
    expect(out.decisions.map((d) => d.action)).toEqual(['escalate'])
    expect(out.alerts.map((a) => [a.type, a.rule])).toEqual([['heal_escalated', 'task_overdue']])
    expect(env.policy.taskOverdue('a', 'task t-3').decisions).toEqual([])
    expect(env.policy.nextDueAt()).toBe(T0 + 600 * S)
    env.advance(540)
    expect(env.policy.tick().decisions.map((d) => [d.action, d.rule])).toEqual([['restart', 'task_overdue']])
  })

  it('ends the wait when the agent comes back as a new process', () => {
    const env = setup()
    env.join('a')
    env.policy.pause()
    env.policy.taskOverdue('a', 'task t-1')
    expect(env.policy.isWaitingForRestart('a')).toBe(true)
    env.restarted('a')
    expect(env.policy.isWaitingForRestart('a')).toBe(false)
    expect(env.policy.resume().decisions).toEqual([])
  })
})

describe('history', () => {
  it('keeps the last 1000 actions, newest first', () => {
    const env = setup({ crashLimit: 1 })
    for (let i = 0; i < 1005; i++) {
      const id = `a-${i}`
      env.join(id)
      env.advance(1)
      env.restarted(id)
    }
    const actions = env.policy.view().actions
    expect(actions).toHaveLength(1000)
    expect(actions[0]).toMatchObject({ agent_id: 'a-1004', action_id: 'h-1005', at: T0 + 1005 * S })
    expect(actions[999]).toMatchObject({ agent_id: 'a-5', action_id: 'h-6' })
    expect(actions.every((a, i) => i === 0 || a.at < actions[i - 1].at)).toBe(true)
  })

  it('hands out copies', () => {
    const env = setup({ crashLimit: 1 })
    env.join('a')
    env.restarted('a')
    env.policy.view().actions[0].state = 'lifted'
    expect(env.policy.view().actions[0].state).toBe('quarantined')
  })
})
