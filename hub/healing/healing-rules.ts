/**
 * HealingPolicy's rules (healing-policy.ts) as pure functions of counts: the one rule book. What
 * an identify, a stats report or a healing restart asked for decides, given what the budget
 * holds now. Written once, judged by the one decider (healing-decider.ts) and the crash-loop
 * check (hub-healing.ts) over either store's counts: one hub's (memory-healing-store.ts, with
 * healing-budget.ts), a cluster's in SQL (hub/pg/pg-healing-store.ts). The counts never decide;
 * these do.
 */
import type { HealingRule } from './healing-history.ts'
import type { HealingSettings } from './healing-settings.ts'

/** One agent's part of the budget, as a store counts it now. */
export interface AgentBudget {
  /** A restart is pending for the agent (one hub: its healing restart in flight). */
  inFlight: boolean
  /** Its healing restarts commanded within the window. */
  recentRestarts: number
  /** Its last healing restart ended within the cooldown. */
  cooling: boolean
  /** It was escalated within the window. */
  escalatedInWindow: boolean
}

/** The fleet's part of the budget. */
export interface FleetBudget {
  /** Healing restarts in flight in the whole fleet. */
  inFlight: number
  rolloutRunning: boolean
}

/** Why a restart may not start now; `per_agent_limit` is the one that escalates. */
export type Refusal = 'in_flight' | 'per_agent_limit' | 'cooldown' | 'rollout' | 'concurrency'

/**
 * Whether a healing restart of the agent may start now: `start`; `escalate` (past the per-agent
 * limit, not yet escalated within the window: record it and alert `heal_escalated`); or the first
 * reason it may not. The order is the contract's: an agent past its limit is escalated whatever
 * the fleet is doing; cooldown, rollout and concurrency only make it wait.
 */
export function restartVerdict(
  s: HealingSettings, agent: AgentBudget, fleet: FleetBudget,
): { verdict: 'start' } | { verdict: 'escalate' } | { verdict: 'refused'; refusal: Refusal } {
  if (agent.inFlight) return { verdict: 'refused', refusal: 'in_flight' }
  if (agent.recentRestarts >= s.maxPerAgent) {
    return agent.escalatedInWindow ? { verdict: 'refused', refusal: 'per_agent_limit' } : { verdict: 'escalate' }
  }
  if (agent.cooling) return { verdict: 'refused', refusal: 'cooldown' }
  if (fleet.rolloutRunning) return { verdict: 'refused', refusal: 'rollout' }
  if (fleet.inFlight >= s.maxConcurrent) return { verdict: 'refused', refusal: 'concurrency' }
  return { verdict: 'start' }
}

/** The crash-loop rule: `crashes` unplanned restarts within the window (the store's count) quarantine, unless healing is paused. */
export function isCrashLoop(s: HealingSettings, crashes: number, paused: boolean): boolean {
  return crashes >= s.crashLimit && !paused
}

/** Stats reports in a row above the memory limit, after one at `rssBytes` (capped at 2: two restart). */
export function memoryAboveAfter(s: HealingSettings, before: number, rssBytes: number): number {
  return s.maxMemoryMb !== null && rssBytes > s.maxMemoryMb * 1024 * 1024 ? Math.min(2, before + 1) : 0
}

/** The restart a rule's healing restart is: memory waits for the task, an overdue task does not. */
export function restartOf(rule: 'memory' | 'task_overdue'): { mode: 'graceful' | 'force'; reason: 'heal:memory' | 'task_overdue' } {
  return rule === 'memory' ? { mode: 'graceful', reason: 'heal:memory' } : { mode: 'force', reason: 'task_overdue' }
}

/** The `detail` of each action, the same on both stores. */
export const healingDetail = {
  crashLoop: (s: HealingSettings, crashes: number) => `${crashes} unplanned restarts within ${s.windowS} s`,
  memory: (s: HealingSettings, rssBytes: number) =>
    `rss ${Math.round(rssBytes / (1024 * 1024))} MB above ${s.maxMemoryMb} MB in two stats reports in a row`,
  escalate: (s: HealingSettings, rule: HealingRule, detail: string) =>
    `${s.maxPerAgent} healing restarts within ${s.windowS} s; ${rule} wants another: ${detail}`,
}
