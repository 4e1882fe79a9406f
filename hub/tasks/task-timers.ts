/**
 * Each task's two deadlines, kept apart from its record: the current step's (an assignment
 * to be accepted, or an agent's grace period to come back with it) and the hub's overall one
 * on an assigned task (overdue). Arming one replaces the same kind's earlier timer.
 */
type Timer = ReturnType<typeof setTimeout>

export type { OverdueTask } from './overdue.ts'

export class TaskTimers {
  private readonly step = new Map<string, Timer>()
  private readonly overdue = new Map<string, Timer>()

  armStep(taskId: string, ms: number, fire: () => void): void {
    this.arm(this.step, taskId, ms, fire)
  }

  clearStep(taskId: string): void {
    clear(this.step, taskId)
  }

  armOverdue(taskId: string, ms: number, fire: () => void): void {
    this.arm(this.overdue, taskId, ms, fire)
  }

  hasOverdue(taskId: string): boolean {
    return this.overdue.has(taskId)
  }

  /** Both deadlines: the task is settled, or queued again. */
  clear(taskId: string): void {
    clear(this.step, taskId)
    clear(this.overdue, taskId)
  }

  close(): void {
    for (const timer of [...this.step.values(), ...this.overdue.values()]) clearTimeout(timer)
    this.step.clear()
    this.overdue.clear()
  }

  private arm(timers: Map<string, Timer>, taskId: string, ms: number, fire: () => void): void {
    clear(timers, taskId)
    timers.set(taskId, setTimeout(() => {
      timers.delete(taskId)
      fire()
    }, ms))
  }
}

function clear(timers: Map<string, Timer>, taskId: string): void {
  const timer = timers.get(taskId)
  if (timer) clearTimeout(timer)
  timers.delete(taskId)
}
