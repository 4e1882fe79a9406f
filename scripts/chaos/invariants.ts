/**
 * The invariants of a chaos run, each checked over the whole history (history.ts) and the
 * task command's ledger (times relative to the run's start). Each returns how many things it
 * checked and what broke it; `ok` only if nothing did.
 */
import type { Entry, LedgerLine } from './history.ts'

export interface Verdict {
  name: string
  ok: boolean
  /** How many things were checked (tasks, samples, processes...). */
  count: number
  failures: string[]
  /** When (ms since the run's start) the first thing that broke it happened; null if nothing did. */
  failedAt: number | null
}

/** Healing's crash-loop rule in the run's hubs: this many unplanned restarts within the window quarantine an agent. */
export const HEAL_CRASH_LIMIT = 3
export const HEAL_WINDOW_MS = 600_000
/** How long after the last fault ended every agent must be connected again. */
export const RECONNECT_WITHIN_MS = 60_000
const FINAL = new Set(['completed', 'failed', 'cancelled'])

interface Failure {
  at: number
  text: string
}

const verdict = (name: string, count: number, failures: Failure[]): Verdict => ({
  name, ok: failures.length === 0, count, failures: failures.map((f) => f.text),
  failedAt: failures.length === 0 ? null : Math.min(...failures.map((f) => f.at)),
})
const of = <T extends Entry['type']>(history: Entry[], type: T) => history.filter((e): e is Extract<Entry, { type: T }> => e.type === type)

export function everyAcceptedTaskFinished(history: Entry[]): Verdict {
  const final = new Map(of(history, 'task_final').map((e) => [e.task_id, e.status]))
  const accepted = of(history, 'task_accepted')
  const failures = accepted.filter((e) => !FINAL.has(final.get(e.task_id) ?? ''))
    .map((e) => ({ at: e.t, text: `${e.task_id}: ${final.get(e.task_id) ?? 'never seen final'}` }))
  return verdict('every accepted task reached a final state', accepted.length, failures)
}

/**
 * How long a fault's consequences may follow it: a task of an agent gone is queued again after
 * the grace period, a blackholed sidecar notices after its ping timeout, a hub's lease runs out.
 */
export const AFTERMATH_MS = 30_000

/**
 * Faults that may have interrupted the runs of `agents` at some moment of [from, to]: those
 * under way then or shortly before (AFTERMATH_MS), on the database, a hub, or one of the agents.
 */
function interruptionsBetween(history: Entry[], from: number, to: number, agents: string[]): number {
  return of(history, 'fault').filter((f) => f.t <= to && f.until + AFTERMATH_MS >= from &&
    (f.kind === 'stop_postgres' || f.kind === 'kill_hub' || agents.includes(f.target))).length
}

export function noTaskCompletedTwice(history: Entry[], ledger: LedgerLine[]): Verdict {
  const failures: Failure[] = []
  const byTask = groupRuns(ledger)
  for (const [taskId, lines] of byTask) {
    const ends = lines.filter((l) => l.event === 'end')
    // Two runs that both finished are a double completion unless a fault fell between them.
    for (let i = 1; i < ends.length; i++) {
      if (interruptionsBetween(history, ends[i - 1].t, ends[i].t, [ends[i - 1].agent_id, ends[i].agent_id]) === 0) failures.push({ at: ends[i].t, text: `${taskId}: finished at ${ends[i - 1].t} and again at ${ends[i].t} ms with no fault between` })
    }
  }
  return verdict('no task completed twice', byTask.size, failures)
}

export function extraRunsMatchInterruptions(history: Entry[], ledger: LedgerLine[]): Verdict {
  const failures: Failure[] = []
  let extra = 0
  for (const [taskId, lines] of groupRuns(ledger)) {
    const starts = lines.filter((l) => l.event === 'start')
    for (let i = 1; i < starts.length; i++) {
      extra++
      if (interruptionsBetween(history, starts[i - 1].t, starts[i].t, [starts[i - 1].agent_id, starts[i].agent_id]) === 0) failures.push({ at: starts[i].t, text: `${taskId}: ran again at ${starts[i].t} ms with no fault since ${starts[i - 1].t} ms` })
    }
  }
  return verdict('every extra run of a task matches a recorded interruption', extra, failures)
}

export function rolloutsWithinMaxUnavailable(history: Entry[]): Verdict {
  const samples = of(history, 'rollout_sample')
  const failures = samples.filter((s) => s.down > s.max_unavailable).map((s) => ({ at: s.t, text: `${s.rollout_id} at ${s.t} ms: ${s.down} down, max_unavailable ${s.max_unavailable}` }))
  return verdict('no rollout had more than max_unavailable agents down', samples.length, failures)
}

export function healingWithinConcurrency(history: Entry[]): Verdict {
  const samples = of(history, 'healing_sample')
  const failures = samples.filter((s) => s.in_flight > s.max_concurrent).map((s) => ({ at: s.t, text: `at ${s.t} ms: ${s.in_flight} healing restarts in flight, max ${s.max_concurrent}` }))
  return verdict('healing never exceeded its concurrency', samples.length, failures)
}

export function onlyKilledProcessesExited(history: Entry[]): Verdict {
  const exits = of(history, 'exit')
  const restarts = of(history, 'sidecar_restarts')
  const failures = [
    ...exits.filter((e) => !e.killed).map((e) => ({ at: e.t, text: `${e.process} exited at ${e.t} ms without being killed` })),
    ...restarts.filter((r) => r.restarts > r.explained + r.uncertain)
      .map((r) => ({ at: r.t, text: `${r.agent_id}: ${r.restarts} pm2 restarts, ${r.explained} killed or commanded, ${r.uncertain} rollouts perhaps begun` })),
  ]
  return verdict('no process exited except those killed', exits.length + restarts.length, failures)
}

/**
 * Healing's quarantines (which the run lifts as it sees them) each followed a crash loop the run
 * made: HEAL_CRASH_LIMIT kills of that sidecar within healing's window (give or take the
 * aftermath: a crash is counted when the sidecar identifies again), and after its last resume
 * (a resume starts the count over).
 */
export function quarantinesFollowCrashLoops(history: Entry[]): Verdict {
  const quarantines = of(history, 'quarantine_resumed')
  const kills = of(history, 'fault').filter((f) => f.kind === 'kill_sidecar')
  const failures: Failure[] = []
  for (const [i, q] of quarantines.entries()) {
    const resumedBefore = quarantines.slice(0, i).findLast((p) => p.agent_id === q.agent_id)?.t ?? -Infinity
    const from = Math.max(resumedBefore, q.t - HEAL_WINDOW_MS) - AFTERMATH_MS
    const crashes = kills.filter((k) => k.target === q.agent_id && k.t > from && k.t <= q.t).length
    if (crashes < HEAL_CRASH_LIMIT) failures.push({ at: q.t, text: `${q.agent_id} quarantined at ${q.t} ms after ${crashes} kills (a crash loop is ${HEAL_CRASH_LIMIT})` })
  }
  return verdict('every quarantine followed a crash loop the run made', quarantines.length, failures)
}

export function agentsBackAfterLastFault(history: Entry[]): Verdict {
  const faults = of(history, 'fault')
  const lastEnd = Math.max(0, ...faults.map((f) => f.until))
  const samples = of(history, 'agents_sample')
  const all = samples.at(-1)?.all ?? []
  const back = samples.find((s) => s.t >= lastEnd && s.all.every((id) => s.connected.includes(id)))
  const failures = !back || back.t - lastEnd > RECONNECT_WITHIN_MS
    ? [{ at: lastEnd + RECONNECT_WITHIN_MS, text: `not every agent connected within ${RECONNECT_WITHIN_MS} ms of the last fault (ended at ${lastEnd} ms)${back ? `: at ${back.t} ms` : ''}` }]
    : []
  return verdict('every agent connected again within 60 s of the last fault', all.length, failures)
}

export function checkAll(history: Entry[], ledger: LedgerLine[]): Verdict[] {
  return [
    everyAcceptedTaskFinished(history),
    noTaskCompletedTwice(history, ledger),
    extraRunsMatchInterruptions(history, ledger),
    rolloutsWithinMaxUnavailable(history),
    healingWithinConcurrency(history),
    onlyKilledProcessesExited(history),
    agentsBackAfterLastFault(history),
    quarantinesFollowCrashLoops(history),
  ]
}

function groupRuns(ledger: LedgerLine[]): Map<string, LedgerLine[]> {
  const byTask = new Map<string, LedgerLine[]>()
  for (const line of ledger) byTask.set(line.task_id, [...(byTask.get(line.task_id) ?? []), line])
  return byTask
}
