/**
 * What the hub and a (re)identified sidecar each believe is in flight, reconciled (the task
 * board's identify step, tasks.ts): a task a previous hub gave it and it lost runs again, one it
 * still holds runs on, a cancelled one stays cancelled, anything else it names is cancelled.
 */
import type { AgentRecord } from '../agents/fleet.ts'
import type { HubMessage } from '../../shared/protocol.ts'
import type { TaskRecord } from './task-options.ts'
import { lostCountsAsAttempt, takesReportFrom } from './rules.ts'

/** The task board's steps the reconcile takes (TaskBoard.reconcile). */
export interface ReconcileSteps {
  task(taskId: string): TaskRecord | undefined
  /** The task a previous hub had in flight on `agentId` (restored from its save), once. */
  takeRestoredInFlight(agentId: string): string | undefined
  /** Takes the task back (rules.ts requeueVerdict); `counted: false`: its assignment was no attempt. */
  requeue(task: TaskRecord, counted?: boolean): void
  clearStep(taskId: string): void
  hasOverdue(taskId: string): boolean
  armOverdue(task: TaskRecord): void
  touch(task: TaskRecord): void
  /** The agent a task was last given to (only its report of the task counts). */
  lastAssignee(taskId: string): string | undefined
  /** Takes a queued task out of the queue (its agent holds it after all). */
  unqueue(taskId: string): void
  /** Keeps the agent busy until it reports the task, or the cancel grace runs out. */
  releaseLater(agentId: string, taskId: string): void
  sendToAgent(agentId: string, frame: HubMessage): void
  /** What the fleet records the agent as holding. */
  holding(rec: AgentRecord, taskId: string | null): void
}

export function reconcileIdentified(b: ReconcileSteps, rec: AgentRecord, activeTaskId: string | null): void {
  const restored = b.takeRestoredInFlight(rec.agent_id)
  const lost = restored !== undefined && restored !== activeTaskId ? b.task(restored) : undefined
  if (lost && (lost.status === 'assigned' || lost.status === 'working') && lost.agent_id === rec.agent_id) {
    // Back without the task a previous hub gave it: run it again now, not after the grace
    // period. An assignment never accepted (its message lost with that hub) was no attempt.
    b.requeue(lost, lostCountsAsAttempt(lost.status))
  }
  let holding = rec.task_id
  const held = holding ? b.task(holding) : undefined
  if (held) b.clearStep(held.task_id)
  if (held && held.task_id !== activeTaskId) {
    // The sidecar no longer has it (lost before it was accepted, or cut short): run it again.
    holding = null
    if (held.status === 'assigned' || held.status === 'working') b.requeue(held, lostCountsAsAttempt(held.status))
  }
  if (activeTaskId && holding !== activeTaskId) {
    const task = b.task(activeTaskId)
    const takes = task !== undefined && takesReportFrom(task, b.lastAssignee(activeTaskId), rec.agent_id)
    if (task && takes && task.status !== 'queued') {
      // In flight here when the hub restarted: the agent still holds it.
      b.clearStep(task.task_id)
      task.status = 'working'
      if (!b.hasOverdue(task.task_id)) b.armOverdue(task)
      b.touch(task)
      holding = activeTaskId
    } else if (task && takes) {
      // Requeued after the grace period but not yet given to anyone: take it back.
      b.unqueue(activeTaskId)
      task.status = 'working'
      task.agent_id = rec.agent_id
      task.attempts = Math.max(task.attempts, 1) // as in finished()
      b.armOverdue(task)
      b.touch(task)
      holding = activeTaskId
    } else if (task?.status === 'cancelled') {
      // Busy until its sidecar reports the stopped task: no next task beside one still dying.
      holding = activeTaskId
      b.releaseLater(rec.agent_id, activeTaskId)
    } else if (task?.status !== 'completed' && task?.status !== 'failed') {
      b.sendToAgent(rec.agent_id, { type: 'task_cancel', task_id: activeTaskId })
    }
    // A finished task's late result is acknowledged (and ignored) when it arrives.
  }
  // Cancelled while the agent was away (or a hub ago): the cancel may not have reached it.
  if (holding !== null && holding === activeTaskId && b.task(holding)?.status === 'cancelled') {
    b.sendToAgent(rec.agent_id, { type: 'task_cancel', task_id: holding, reason: 'cancelled' })
    b.releaseLater(rec.agent_id, holding)
  }
  b.holding(rec, holding)
}
