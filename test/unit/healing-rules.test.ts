/**
 * Healing's rules as functions of counts (hub/healing/healing-rules.ts): what both stores' counts
 * are judged by, one hub's ledgers (healing-policy.test.ts) and a cluster's rows
 * (test/behaviour/healing.test.ts on the pg store).
 */
import { describe, expect, it } from 'vitest'
import { healingDetail, isCrashLoop, memoryAboveAfter, restartOf, restartVerdict, type AgentBudget, type FleetBudget } from '../../hub/healing/healing-rules.ts'
import { resolveHealingSettings } from '../../hub/healing/healing-settings.ts'

const s = resolveHealingSettings({ crashLimit: 3, windowS: 600, maxMemoryMb: 100, maxConcurrent: 1, cooldownS: 300, maxPerAgent: 2 })
const idle: AgentBudget = { inFlight: false, recentRestarts: 0, cooling: false, escalatedInWindow: false }
const quiet: FleetBudget = { inFlight: 0, rolloutRunning: false }

describe('restartVerdict', () => {
  it('starts a restart the budget allows', () => {
    expect(restartVerdict(s, idle, quiet)).toEqual({ verdict: 'start' })
    expect(restartVerdict(s, { ...idle, recentRestarts: 1 }, quiet)).toEqual({ verdict: 'start' })
  })

  it('refuses for the agent\'s restart in flight first, whatever else holds', () => {
    const busy = { ...idle, inFlight: true, recentRestarts: 2, cooling: true }
    expect(restartVerdict(s, busy, { inFlight: 1, rolloutRunning: true })).toEqual({ verdict: 'refused', refusal: 'in_flight' })
  })

  it('escalates past the per-agent limit once per window, even while the fleet is busy', () => {
    const spent = { ...idle, recentRestarts: 2, cooling: true }
    expect(restartVerdict(s, spent, { inFlight: 1, rolloutRunning: true })).toEqual({ verdict: 'escalate' })
    expect(restartVerdict(s, { ...spent, escalatedInWindow: true }, quiet)).toEqual({ verdict: 'refused', refusal: 'per_agent_limit' })
  })

  it('waits for the cooldown, then a running rollout, then the fleet\'s restarts in flight', () => {
    expect(restartVerdict(s, { ...idle, cooling: true }, { inFlight: 1, rolloutRunning: true })).toEqual({ verdict: 'refused', refusal: 'cooldown' })
    expect(restartVerdict(s, idle, { inFlight: 1, rolloutRunning: true })).toEqual({ verdict: 'refused', refusal: 'rollout' })
    expect(restartVerdict(s, idle, { inFlight: 1, rolloutRunning: false })).toEqual({ verdict: 'refused', refusal: 'concurrency' })
  })
})

describe('the crash loop, memory and details', () => {
  it('quarantines at the crash limit, not while paused', () => {
    expect(isCrashLoop(s, 2, false)).toBe(false)
    expect(isCrashLoop(s, 3, false)).toBe(true)
    expect(isCrashLoop(s, 3, true)).toBe(false)
  })

  it('counts reports above the limit in a row, capped at 2, and any report under it starts over', () => {
    const MB = 1024 * 1024
    expect(memoryAboveAfter(s, 0, 101 * MB)).toBe(1)
    expect(memoryAboveAfter(s, 1, 101 * MB)).toBe(2)
    expect(memoryAboveAfter(s, 2, 101 * MB)).toBe(2)
    expect(memoryAboveAfter(s, 2, 100 * MB)).toBe(0)
    expect(memoryAboveAfter(resolveHealingSettings({}), 1, 10_000 * MB)).toBe(0) // the rule is off
  })

  it('restarts memory gracefully and an overdue task by force, and says why alike on both stores', () => {
    expect(restartOf('memory')).toEqual({ mode: 'graceful', reason: 'heal:memory' })
    expect(restartOf('task_overdue')).toEqual({ mode: 'force', reason: 'task_overdue' })
    expect(healingDetail.crashLoop(s, 3)).toBe('3 unplanned restarts within 600 s')
    expect(healingDetail.memory(s, 200 * 1024 * 1024)).toBe('rss 200 MB above 100 MB in two stats reports in a row')
    expect(healingDetail.escalate(s, 'memory', 'x')).toBe('2 healing restarts within 600 s; memory wants another: x')
  })
})
