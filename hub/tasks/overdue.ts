/** An agent that never reported its task: what the hub's one overdue hook is told. */
import { SECOND } from '../../shared/time.ts'

/** An agent has not reported its task within the task's timeout plus the grace period. */
export interface OverdueTask {
  agent_id: string
  task_id: string
  /** When the task was handed to the agent (hub time on one hub, database time in a cluster). */
  assigned_at: number | null
  /** timeout_ms + the grace period: how long the hub waited. */
  waited_ms: number
}

/** The `detail` of an overdue task's healing action. */
export function overdueDetail(overdue: OverdueTask): string {
  return `task ${overdue.task_id} not heard of in ${Math.round(overdue.waited_ms / SECOND)} s`
}
