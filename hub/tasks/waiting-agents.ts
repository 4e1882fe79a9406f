/**
 * The agents a claim may give tasks to (memory-task-queue-store.ts claimNow), read from the
 * caller's list only as far as the queued tasks need: a pass that gives the first queued task to
 * the first free agent reads one agent, not every free one (one hub runs a pass per agent freed).
 * Which agent a task goes to is the cluster's claim's choice: the first, in the order given, that
 * may run it (its pin, then its labels).
 */
import { hasLabels } from '../../shared/labels.ts'

export class WaitingAgents {
  /** Agents read from the list and given no task yet, in the order given. */
  private readonly spare = new Map<string, readonly string[]>()
  /** Agents given a task by this claim: one each, even if the list names one twice. */
  private readonly taken = new Set<string>()
  private readonly rest: Iterator<string>
  private drained = false

  /** `labelsOf`: the agent's labels while it may be given a task, null when it may not. */
  constructor(agents: Iterable<string>, private readonly labelsOf: (agentId: string) => readonly string[] | null) {
    this.rest = agents[Symbol.iterator]()
  }

  /** Whether no agent is left to give a task to. */
  get empty(): boolean {
    if (this.spare.size > 0) return false
    const next = this.read()
    if (next) this.spare.set(next[0], next[1])
    return !next
  }

  /** Takes the first agent waiting that may run `task`; undefined when none may. */
  take(task: { pinned: string | null; labels: readonly string[] }): string | undefined {
    for (const [agentId, labels] of this.spare) {
      if (fits(task, agentId, labels)) return this.give(agentId)
    }
    for (let next = this.read(); next; next = this.read()) {
      if (fits(task, next[0], next[1])) return this.give(next[0])
      this.spare.set(next[0], next[1])
    }
    return undefined
  }

  private give(agentId: string): string {
    this.spare.delete(agentId)
    this.taken.add(agentId)
    return agentId
  }

  /** The next agent on the list that may be given a task. */
  private read(): [string, readonly string[]] | undefined {
    while (!this.drained) {
      const next = this.rest.next()
      if (next.done) this.drained = true
      else if (!this.taken.has(next.value) && !this.spare.has(next.value)) {
        const labels = this.labelsOf(next.value)
        if (labels !== null) return [next.value, labels]
      }
    }
    return undefined
  }
}

function fits(task: { pinned: string | null; labels: readonly string[] }, agentId: string, labels: readonly string[]): boolean {
  if (task.pinned !== null && task.pinned !== agentId) return false
  return task.labels.length === 0 || hasLabels(labels, task.labels)
}
