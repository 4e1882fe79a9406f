/**
 * How one hub claims queued tasks for its free agents (cluster mode). A claim is one statement
 * for a group of free agents together, which gives a task to as many of them as there are tasks
 * they may run (hub/pg/task-queue.ts claimTasks, through the store), and a group's agents are in no other claim
 * meanwhile, so no agent is given two tasks. Claims are
 * wanted (`wanted`) one per nudge (a task queued somewhere) and, while tasks may be waiting
 * for a free agent (`backlog`), one per agent freed; a claim that finds nothing hands its turn
 * to the free agents not in its group, and its own wait for the next nudge (idle). Before, each
 * free agent claimed on every nudge: about four claims that found nothing per task (measured
 * under the cluster_task_throughput load, 50 agents).
 */
import type { Logger } from '../../shared/log.ts'
import type { Fleet } from '../agents/fleet.ts'
import type { KeptTask } from '../tasks/task-queue-store.ts'
import type { ClaimHooks, ClaimPath, TaskClaims } from '../tasks/claim-path.ts'
import { TaskRows } from './task-rows.ts'

/** Claims under way at once, at most: enough to hide a claim's round trip under load. */
const MAX_CLAIMS = 4

export interface ClaimLoopDeps<ClaimedTask extends KeptTask> extends ClaimHooks<ClaimedTask> {
  /** The store's claim (hub/tasks/task-queue-store.ts; in a cluster one statement) for a group of free agents. */
  claim(agents: readonly string[]): Promise<{ tasks: ClaimedTask[]; moreQueued: boolean }>
  /** This hub's lease (hub/cluster/lease.ts): no claim while it may have run out. One hub's always holds. */
  lease: { readonly valid: boolean }
  fleet: Fleet
  log: Logger
}

/**
 * The cluster's claim path, handed to the task engine (hub/tasks/claim-path.ts): a ClaimLoop over
 * the store's claim, and the rows each change left kept for the events stream (`rows.take`).
 */
export function clusterClaimPath<T extends KeptTask>(d: Omit<ClaimLoopDeps<T>, keyof ClaimHooks<T>>): ClaimPath<T> & { rows: TaskRows<T> } {
  const rows = new TaskRows<T>()
  return {
    rows,
    start: (hooks) => new ClaimLoop({ ...d, ...hooks }),
    noted: (taskId, row) => rows.note(taskId, row),
  }
}

export class ClaimLoop<ClaimedTask extends KeptTask = KeptTask> implements TaskClaims {
  /** Agents whose last claim found nothing; tried again on the next nudge. */
  private readonly idle = new Set<string>()
  /** Agents in a claim under way. */
  private readonly claiming = new Set<string>()
  private running = 0
  /** Claims wanted and not yet started (at most MAX_CLAIMS * 2: more would find nothing). */
  private wanted = 0
  /** Tasks may be queued that no free agent has been offered: an agent freed claims. */
  private backlog = true
  /** Nudges so far: a claim that saw none come while it ran may call its agents idle. */
  private nudges = 0
  private closed = false

  constructor(private readonly d: ClaimLoopDeps<ClaimedTask>) {}

  isIdle(agentId: string): boolean {
    return this.idle.has(agentId)
  }

  /** Queued work may be waiting: every free agent here may claim again. */
  nudge(): void {
    this.nudges++
    this.idle.clear()
    this.backlog = true
    this.want()
  }

  /** An agent may have become free. */
  freed(): void {
    if (this.backlog) this.want()
  }

  close(): void {
    this.closed = true
  }

  private want(): void {
    this.wanted = Math.min(this.wanted + 1, MAX_CLAIMS * 2)
    this.pump()
  }

  private pump(): void {
    while (!this.closed && this.wanted > 0 && this.running < MAX_CLAIMS && this.d.lease.valid) {
      const available = [...this.d.fleet.available].filter((id) => this.d.mayClaim(id))
      const free = available.filter((id) => !this.idle.has(id) && !this.claiming.has(id))
      if (free.length === 0) {
        // Agents in a claim under way: it pumps again when done.
        if (available.some((id) => this.claiming.has(id))) return
        // No agent free at all: the next one freed claims. Only idle ones: they were offered it.
        if (available.length === 0) this.backlog = true
        this.wanted = 0
        return
      }
      this.wanted--
      this.running++
      const group = free.slice(0, Math.ceil(free.length / (MAX_CLAIMS - this.running + 1)))
      void this.claim(group)
        .catch((err) => this.d.log.warn('task claim failed', { error: String(err) }))
        .finally(() => {
          this.running--
          this.pump()
        })
    }
  }

  private async claim(group: string[]): Promise<void> {
    const nudges = this.nudges
    for (const id of group) this.claiming.add(id)
    let claimed: { tasks: ClaimedTask[]; moreQueued: boolean }
    try {
      claimed = await this.d.claim(group)
    } finally {
      for (const id of group) this.claiming.delete(id)
    }
    if (claimed.tasks.length > 0) {
      // Handed over first: their agents take the tasks at once, so the next claim leaves them out.
      const handed = Promise.all(claimed.tasks.map((row) => this.d.handOver(row)))
      // Another may be waiting: claim again (the one after finds nothing, or the next in line).
      if (claimed.moreQueued) this.want()
      else this.backlog = false
      await handed
      return
    }
    // A nudge while it ran may be a task committed after the claim looked: not idle then. Nor is
    // an agent given a task meanwhile: idle, it would not claim once free again until a nudge.
    if (this.nudges === nudges) for (const id of group) if (this.d.mayClaim(id)) this.idle.add(id)
    // The free agents outside the group have not been offered what it found nothing of.
    this.want()
  }
}
