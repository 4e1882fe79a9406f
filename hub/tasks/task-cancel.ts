/**
 * Cancelling a task (the task board's, tasks.ts; CONTRACT.md, "Task control"): a queued one is
 * cancelled at once; one in flight too, and its agent is told to stop it (SIGTERM, SIGKILL after
 * its grace). The agent stays busy until its sidecar reports the stopped task, or the cancel
 * grace runs out. `cancelled` is final.
 */
import type { Logger } from '../../shared/log.ts'
import { cancelVerdict } from './rules.ts'
import type { TaskRecord } from './task-options.ts'
import type { ReconcileSteps } from './task-reconcile.ts'

export interface CancelSteps extends Pick<ReconcileSteps, 'task' | 'touch' | 'releaseLater' | 'sendToAgent'> {
  /** A finished task: kept for GET while it fits, its timers cleared. */
  retire(task: TaskRecord): void
  /** Whether the fleet records `agentId` as holding `taskId`. */
  agentHolds(agentId: string, taskId: string): boolean
  log: Pick<Logger, 'info'>
}

export type CancelAnswer = { ok: true; task: Readonly<TaskRecord> } | { ok: false; error: 'task_not_found' | 'task_finished' }

export function cancelTask(b: CancelSteps, taskId: string): CancelAnswer {
  const task = b.task(taskId)
  if (!task) return { ok: false, error: 'task_not_found' }
  const verdict = cancelVerdict(task.status)
  if (verdict === 'finished') return { ok: false, error: 'task_finished' }
  b.log.info('task cancelled', { task_id: taskId, was: task.status, agent_id: task.agent_id })
  task.status = 'cancelled'
  task.run_after = null
  b.touch(task)
  b.retire(task)
  const agentId = task.agent_id
  if (verdict === 'cancel_and_signal' && agentId !== null) {
    b.sendToAgent(agentId, { type: 'task_cancel', task_id: taskId, reason: 'cancelled' })
    if (b.agentHolds(agentId, taskId)) b.releaseLater(agentId, taskId)
  }
  return { ok: true, task }
}
