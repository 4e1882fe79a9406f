/**
 * `GET /api/admin/events` in cluster mode: the EventViews (hub/events/live-events.ts) a hub's one
 * events owner reads over the cluster's rows (hub/pg/pg-event-store.ts), so every hub would show
 * the same: the changes it sees (its agents, the tasks and rollouts it moved, healing actions),
 * viewed from the rows, the agents' and what moved meanwhile under the events' insert lock. See
 * hub/pg/event-rows.ts for why the ids a reader sees never leave a hole behind that fills later.
 */
import type { Change } from '../events/changes.ts'
import type { NewEvent } from '../events/event-log-store.ts'
import type { EventViews, LiveEventKind } from '../events/live-events.ts'
import type { Queryable, Sql } from '../pg/connect.ts'
import { agentRowView, getAgentViews, type AgentViewRow } from '../pg/agent-views.ts'
import { getTask, taskStamps, type TaskRow } from '../pg/task-queue.ts'
import { taskView } from '../api/views.ts'

export interface ClusterViewsDeps {
  sql: Sql
  /** Resolves once this hub's agent rows are written (presence), so views read from them are current. */
  settled(): Promise<void>
  rolloutView(rolloutId: string): Promise<unknown>
  /** A healing action (HealingAction), from the rows. */
  healingAction(actionId: string): Promise<unknown>
  /** The row this hub's change of a task left, if it has it (task-rows.ts): no read then; null: already shown. */
  taskRow?(taskId: string): TaskRow | null | undefined
}

export function clusterEventViews(d: ClusterViewsDeps): EventViews<Queryable> {
  const views = new ClusterViews(d)
  return {
    async read(changes) {
      await d.settled()
      // Agents' views are read under the lock (underLock); the others now, in change order.
      const viewed = await Promise.all(changes.map((c) => c.type === 'agent' ? c.agent_id : views.view(c)))
      if (viewed.every((v) => v === null)) return null
      return {
        async collect(tx) {
          const events: NewEvent[] = []
          await views.underLock(tx, viewed, events)
          return events
        },
      }
    },
  }
}

class ClusterViews {
  constructor(private readonly d: ClusterViewsDeps) {}

  /**
   * Under the events' insert lock, the views of one write, in change order, into `events`: views
   * read there are at least as new as every event already in the table (its inserter's changes
   * committed before it), so an event of this hub never follows another hub's newer one with an
   * older view (a drain on that hub, a rollout stepped there). Agents are read here, in one
   * statement (a read per agent was about 1.1 statements per task under the
   * cluster_task_throughput load); tasks and rollouts read before are read again when they moved.
   */
  async underLock(tx: Queryable, viewed: Array<string | Viewed | null>, events: NewEvent[]): Promise<void> {
    const agentIds = viewed.filter((v) => typeof v === 'string')
    const agents = agentIds.length === 0 ? new Map<string, AgentViewRow>()
      : new Map((await getAgentViews(tx, agentIds)).map((row) => [row.agent_id, row]))
    const rows = new Map<NewEvent, TaskRow>()
    const rollouts: Array<[NewEvent, string]> = []
    for (const v of viewed) {
      if (v === null) continue
      if (typeof v === 'string') {
        const row = agents.get(v)
        if (row) events.push({ kind: 'agent', view: agentRowView(row) })
        continue
      }
      const event: NewEvent = { kind: v.kind, view: v.payload }
      events.push(event)
      if (v.row) rows.set(event, v.row)
      if (v.rolloutId) rollouts.push([event, v.rolloutId])
    }
    await this.#freshTaskViews(tx, rows)
    // Rollouts change seldom: each is read again, from the rows as they stand now.
    for (const [event, rolloutId] of rollouts) event.view = (await this.d.rolloutView(rolloutId)) ?? event.view
  }

  /**
   * Under the events' insert lock: a task's view read before it (or kept from this hub's own
   * statement) may be older than an event another hub has stored since for the same task (a
   * creation here, its completion there); such a view is read again, so the stream never ends a
   * task on a state it has left. One read of the tasks' stamps, and a row only when one moved.
   */
  async #freshTaskViews(tx: Queryable, rows: Map<NewEvent, TaskRow>): Promise<void> {
    if (rows.size === 0) return
    const stamps = new Map((await taskStamps(tx, [...rows.values()].map((r) => r.task_id))).map((s) => [s.task_id, s]))
    for (const [event, was] of rows) {
      const now = stamps.get(was.task_id)
      if (!now || (now.status === was.status && now.updated_at === was.updated_at)) continue
      const row = await getTask(tx, was.task_id)
      if (row) event.view = taskView(row)
    }
  }

  /** The current view of what changed (not an agent's), from the rows; nothing when it is gone by now. */
  async view(change: Exclude<Change, { type: 'agent' }>): Promise<Viewed | null> {
    switch (change.type) {
      case 'task': {
        const kept = this.d.taskRow?.(change.task_id)
        if (kept === null) return null
        const row = kept ?? await getTask(this.d.sql, change.task_id)
        return row ? { kind: 'task', payload: taskView(row), row } : null
      }
      case 'rollout': {
        const view = await this.d.rolloutView(change.rollout_id)
        return view ? { kind: 'rollout', payload: view, rolloutId: change.rollout_id } : null
      }
      case 'healing': {
        const view = await this.d.healingAction(change.action_id)
        return view ? { kind: 'healing', payload: view } : null
      }
    }
  }
}

/** A view read before the insert lock, with what it came from when it may need reading again there. */
interface Viewed {
  kind: LiveEventKind
  payload: unknown
  row?: TaskRow
  rolloutId?: string
}
