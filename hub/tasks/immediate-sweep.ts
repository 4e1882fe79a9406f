/**
 * One hub's task deadlines on the engine's fast path (task-engine.ts over the memory store),
 * by the cluster's rules (sweep.ts): a periodic pass queues again (counted) the tasks whose agent
 * has had no connection past the grace period, then hands the engine the tasks in flight past
 * timeout_ms + grace (engine.overdue: requeued counted, the agent told to drop it, healing told).
 * One pass reads only the tasks in flight (at most one per agent), so the task path arms and
 * clears no timer per assignment or per disconnection. Given the store's deadlines, one timer
 * waits for the earliest and a deadline is acted on when reached; without, at most one interval
 * late (sweepIntervalMs).
 */
import type { Fleet } from '../agents/fleet.ts'
import type { Logger } from '../../shared/log.ts'
import { startIntervalLoop } from '../../shared/interval-loop.ts'
import type { KeptTask } from './task-queue-store.ts'
import type { TaskEngine } from './task-engine.ts'

/** The pass's period for a grace period: a quarter of it (a deadline at most that late), 50 ms to 1 s. */
export function sweepIntervalMs(graceMs: number): number {
  return Math.min(1000, Math.max(50, Math.round(graceMs / 4)))
}

const MAX_TIMER_MS = 2 ** 31 - 1

export interface ImmediateSweepDeps<T extends KeptTask> {
  tasks: Pick<TaskEngine<T>, 'store' | 'overdue' | 'changed' | 'nudge'>
  fleet: Fleet
  log: Logger
  /** AGENTCOM_TASK_GRACE_MS: how long an agent may be gone with its task, or late past its timeout. */
  graceMs: number
  intervalMs: number
  /**
   * The store's clock and its next deadline (MemoryTaskQueueStore.nextDeadline): one timer is
   * armed at the earliest, so a deadline is acted on when it is reached, the interval a backstop.
   */
  deadlines?: { now(): number; next(): number | null }
}

export function startImmediateSweep<T extends KeptTask>(d: ImmediateSweepDeps<T>): { run(): Promise<void>; wake(at: number): void; stop(): void } {
  let wakeAt: number | null = null
  let wakeTimer: ReturnType<typeof setTimeout> | null = null

  /** One timer at the earliest deadline known: an earlier one replaces it. */
  function wake(at: number): void {
    if (loop.stopped || !d.deadlines || (wakeAt !== null && wakeAt <= at)) return
    if (wakeTimer) clearTimeout(wakeTimer)
    wakeAt = at
    // Capped as setTimeout's delay is (a longer one fires at once); a pass that finds it early arms it again.
    wakeTimer = setTimeout(() => {
      wakeAt = wakeTimer = null
      void loop.run()
    }, Math.min(MAX_TIMER_MS, Math.max(0, at - d.deadlines.now())))
  }

  async function sweep(): Promise<void> {
    const { store } = d.tasks
    let requeued = 0
    for (const task of await store.orphaned(d.graceMs)) {
      const agentId = task.agent_id!
      const row = await store.requeue(task.task_id, agentId, true)
      if (!row) continue
      requeued++
      d.tasks.changed(task.task_id)
      d.log.warn('agent did not come back with its task', { task_id: task.task_id, agent_id: agentId, status: row.status })
      // One hub keeps the gone agent's record: it holds the task no longer.
      const rec = d.fleet.get(agentId)
      if (rec?.task_id === task.task_id) d.fleet.release(rec, task.task_id)
    }
    if (requeued > 0) d.tasks.nudge()
    if (loop.stopped) return
    for (const task of await store.overdue(d.graceMs)) await d.tasks.overdue(task, d.graceMs)
    // A deadline this pass left as it was (the store failing) waits for the interval, not a loop.
    const next = d.deadlines?.next()
    if (next != null && next > d.deadlines!.now()) wake(next)
  }

  const loop = startIntervalLoop(sweep, { intervalMs: d.intervalMs, onError: (err) => d.log.warn('task sweep failed', { error: String(err) }) })
  return {
    run: loop.run,
    wake,
    stop() {
      loop.stop()
      if (wakeTimer) clearTimeout(wakeTimer)
    },
  }
}
