/**
 * Each invariant of `npm run chaos` on recorded histories: one that holds, and one that breaks
 * it, on which the checker must FAIL (a checker that cannot fail checks nothing).
 */
import { describe, expect, it } from 'vitest'
import type { Entry, LedgerLine } from '../../../scripts/chaos/history.ts'
import { parseLedger } from '../../../scripts/chaos/history.ts'
import {
  agentsBackAfterLastFault, checkAll, everyAcceptedTaskFinished, extraRunsMatchInterruptions, healingWithinConcurrency,
  noTaskCompletedTwice, onlyKilledProcessesExited, quarantinesFollowCrashLoops, rolloutsWithinMaxUnavailable,
} from '../../../scripts/chaos/invariants.ts'

const killAt = (t: number, until = t): Entry => ({ t, type: 'fault', kind: 'kill_sidecar', target: 'chaos-1', until })
const ledger = (text: string): LedgerLine[] => parseLedger(text)
const all = ['a', 'b']

/** A recorded run that breaks nothing: two tasks, one run again after a kill, a rollout, healing. */
const good: Entry[] = [
  { t: 100, type: 'task_accepted', task_id: 't1' },
  { t: 200, type: 'task_accepted', task_id: 't2' },
  killAt(1000),
  { t: 1500, type: 'rollout_created', rollout_id: 'r1', agent_ids: ['a', 'b'], max_unavailable: 1 },
  { t: 1600, type: 'rollout_sample', rollout_id: 'r1', down: 1, max_unavailable: 1 },
  { t: 1700, type: 'healing_sample', in_flight: 1, max_concurrent: 1 },
  { t: 1800, type: 'exit', process: 'hub node', killed: true },
  { t: 2000, type: 'agents_sample', connected: ['a'], all },
  { t: 3000, type: 'agents_sample', connected: ['a', 'b'], all },
  { t: 4000, type: 'task_final', task_id: 't1', status: 'completed' },
  { t: 4000, type: 'task_final', task_id: 't2', status: 'failed' },
  { t: 4100, type: 'sidecar_restarts', agent_id: 'a', restarts: 2, explained: 1, uncertain: 1 },
  // chaos-1 killed three times within healing's window: a crash loop, quarantined, resumed.
  killAt(2100), killAt(2200),
  { t: 2500, type: 'quarantine_resumed', agent_id: 'chaos-1' },
]
const goodLedger = ledger('t1 start 150 chaos-1\nt1 start 1200 chaos-2\nt1 end 1900 chaos-2\nt2 start 300 chaos-3\nt2 end 800 chaos-3\n')

describe('chaos invariants on a history that keeps them', () => {
  it('every checker passes, with what it counted', () => {
    expect(checkAll(good, goodLedger).map((v) => [v.name, v.ok, v.count])).toEqual([
      ['every accepted task reached a final state', true, 2],
      ['no task completed twice', true, 2],
      ['every extra run of a task matches a recorded interruption', true, 1],
      ['no rollout had more than max_unavailable agents down', true, 1],
      ['healing never exceeded its concurrency', true, 1],
      ['no process exited except those killed', true, 2],
      ['every agent connected again within 60 s of the last fault', true, 2],
      ['every quarantine followed a crash loop the run made', true, 1],
    ])
    expect(checkAll(good, goodLedger).map((v) => v.failedAt)).toEqual(Array(8).fill(null))
  })
})

describe('each checker FAILS on a history that breaks it', () => {
  it('an accepted task never final', () => {
    const v = everyAcceptedTaskFinished([...good.filter((e) => !(e.type === 'task_final' && e.task_id === 't2')), { t: 4000, type: 'task_final', task_id: 't2', status: 'queued' }])
    expect(v).toMatchObject({ ok: false, failures: ['t2: queued'] })
    expect(everyAcceptedTaskFinished(good.filter((e) => e.type !== 'task_final')).failures).toEqual(['t1: never seen final', 't2: never seen final'])
  })

  it('a task that finished twice with no fault between', () => {
    const v = noTaskCompletedTwice(good, ledger('t2 start 300\nt2 end 400\nt2 start 500\nt2 end 800\n'))
    expect(v).toMatchObject({ ok: false, failures: ['t2: finished at 400 and again at 800 ms with no fault between'] })
  })

  it('a task run again with no interruption since its last run', () => {
    const v = extraRunsMatchInterruptions(good, ledger('t2 start 300 chaos-3\nt2 start 700 chaos-3\n'))
    expect(v).toMatchObject({ ok: false, count: 1, failures: ['t2: ran again at 700 ms with no fault since 300 ms'], failedAt: 700 })
    // A fault on another sidecar explains nothing.
    const other = extraRunsMatchInterruptions(good, ledger('t2 start 1100 chaos-3\nt2 start 1400 chaos-4\n'))
    expect(other).toMatchObject({ ok: false, failures: ['t2: ran again at 1400 ms with no fault since 1100 ms'] })
  })

  it('a rollout with more agents down than max_unavailable', () => {
    const v = rolloutsWithinMaxUnavailable([...good, { t: 5000, type: 'rollout_sample', rollout_id: 'r1', down: 2, max_unavailable: 1 }])
    expect(v).toMatchObject({ ok: false, count: 2, failures: ['r1 at 5000 ms: 2 down, max_unavailable 1'], failedAt: 5000 })
  })

  it('healing with more restarts in flight than its concurrency', () => {
    const v = healingWithinConcurrency([...good, { t: 5000, type: 'healing_sample', in_flight: 2, max_concurrent: 1 }])
    expect(v).toMatchObject({ ok: false, failures: ['at 5000 ms: 2 healing restarts in flight, max 1'] })
  })

  it('a process that exited unkilled, and a sidecar restarted more often than killed or commanded', () => {
    const v = onlyKilledProcessesExited([...good, { t: 5000, type: 'exit', process: 'hub deno', killed: false }, { t: 5100, type: 'sidecar_restarts', agent_id: 'b', restarts: 3, explained: 1, uncertain: 1 }])
    expect(v).toMatchObject({ ok: false, failures: ['hub deno exited at 5000 ms without being killed', 'b: 3 pm2 restarts, 1 killed or commanded, 1 rollouts perhaps begun'] })
  })

  it('an agent still offline 60 s after the last fault', () => {
    const late: Entry[] = [killAt(1000, 2000), { t: 30_000, type: 'agents_sample', connected: ['a'], all }, { t: 62_001, type: 'agents_sample', connected: ['a', 'b'], all }]
    expect(agentsBackAfterLastFault(late)).toMatchObject({ ok: false, failures: ['not every agent connected within 60000 ms of the last fault (ended at 2000 ms): at 62001 ms'] })
    expect(agentsBackAfterLastFault(late.slice(0, 2)).ok).toBe(false)
  })

  it('a quarantine with fewer kills than a crash loop: too few, too long ago, or counted before a resume', () => {
    const resumed = (t: number): Entry => ({ t, type: 'quarantine_resumed', agent_id: 'chaos-1' })
    expect(quarantinesFollowCrashLoops([killAt(1000), killAt(2000), resumed(3000)])).toMatchObject({
      ok: false, count: 1, failures: ['chaos-1 quarantined at 3000 ms after 2 kills (a crash loop is 3)'], failedAt: 3000,
    })
    // The first of three kills more than the window (600 s) and its aftermath before.
    expect(quarantinesFollowCrashLoops([killAt(1000), killAt(640_000), killAt(650_000), resumed(660_000)]).ok).toBe(false)
    // A resume starts the count over: the kills before it count for the quarantine it lifted only.
    const again = [killAt(1000), killAt(2000), killAt(3000), resumed(40_000), killAt(50_000), resumed(60_000)]
    expect(quarantinesFollowCrashLoops(again)).toMatchObject({ ok: false, count: 2, failures: ['chaos-1 quarantined at 60000 ms after 1 kills (a crash loop is 3)'] })
    // Kills of another sidecar explain nothing.
    expect(quarantinesFollowCrashLoops([killAt(1000), killAt(2000), killAt(3000), { t: 4000, type: 'quarantine_resumed', agent_id: 'chaos-2' }]).ok).toBe(false)
  })
})
