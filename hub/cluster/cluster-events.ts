/**
 * `GET /api/admin/events` in cluster mode: one stream for the whole fleet, whichever hub a
 * client reads it from. Each hub turns the changes it sees (its agents, the tasks and rollouts
 * it moved, healing actions) into events, with the views read from the rows so every hub
 * would show the same, and inserts them into the `events` table; the commit NOTIFYs every hub
 * with the newest id, and each hub reads the table from its last id into its EventLog, which
 * serves its clients (replay by Last-Event-ID included). The ids are the table's, prefixed by
 * the cluster's epoch, so a client may reconnect to any hub. See hub/pg/event-rows.ts for why the
 * ids a reader sees never leave a hole behind that fills later.
 */
import type { Logger } from '../../shared/log.ts'
import { changeKey, type Change, type ChangeFeed } from '../events/changes.ts'
import { EventLog } from '../events/event-log.ts'
import type { LiveEventKind, LiveEventSource } from '../events/live-events.ts'
import type { Queryable, Sql } from '../pg/connect.ts'
import { ALL_HUBS, type PgBus } from '../pg/notify-bus.ts'
import { clusterEpoch, eventsAfter, insertEvents, lastEventId } from '../pg/event-rows.ts'
import { agentRowView, getAgentViews, type AgentViewRow } from '../pg/agent-views.ts'
import { getTask, taskStamps, type TaskRow } from '../pg/task-queue.ts'
import { taskView } from '../api/views.ts'

/** Bus message: events up to `id` are in the table. */
export const EVENTS_NUDGE = 'events'
const READ_BATCH = 1000

export interface ClusterEventsDeps {
  sql: Sql
  bus: PgBus
  log: Logger
  changes: ChangeFeed
  /** Resolves once this hub's agent rows are written (presence), so views read from them are current. */
  settled(): Promise<void>
  rolloutView(rolloutId: string): Promise<unknown>
  /** A healing action (HealingAction), from the rows. */
  healingAction(actionId: string): Promise<unknown>
  /** The row this hub's change of a task left, if it has it (task-rows.ts): no read then; null: already shown. */
  taskRow?(taskId: string): TaskRow | null | undefined
  /** Each view of this hub's own changes, as it goes into the table (the metrics' counters). */
  ownView?(kind: LiveEventKind, view: unknown): void
}

/** Opens the log: the cluster's epoch, and the newest events already in the table for replay. */
export async function openClusterEventLog(sql: Sql, capacity: number): Promise<EventLog> {
  const log = new EventLog({ capacity, epoch: await clusterEpoch(sql) })
  const newest = await lastEventId(sql)
  for (const row of await eventsAfter(sql, Math.max(0, newest - capacity), capacity)) log.appendAt(row.id, row.kind, row.json)
  return log
}

export class ClusterEvents implements LiveEventSource {
  #pending = new Map<string, Change>()
  #published: { kind: LiveEventKind; view: unknown }[] = []
  #writing: Promise<void> | null = null
  #writeAgain = false
  #reading: Promise<void> | null = null
  #readAgain = false
  #closed = false
  readonly #unsubscribe: Array<() => void>

  constructor(readonly log: EventLog, private readonly d: ClusterEventsDeps) {
    this.#unsubscribe = [
      d.changes.subscribe((change) => this.#note(change)),
      d.bus.subscribe((message) => {
        if (message.kind === EVENTS_NUDGE) void this.catchUp()
      }),
    ]
  }

  publish(kind: LiveEventKind, view: unknown): void {
    this.#published.push({ kind, view })
    this.#schedule()
  }

  /** Reads the events after the last one this hub has into its log (on a nudge, after a re-LISTEN, each sweep). */
  catchUp(): Promise<void> {
    if (this.#reading) {
      this.#readAgain = true
      return this.#reading
    }
    this.#reading = (async () => {
      try {
        do {
          this.#readAgain = false
          await this.#read()
        } while (this.#readAgain && !this.#closed)
      } catch (err) {
        this.d.log.warn('could not read cluster events', { error: String(err) })
      } finally {
        this.#reading = null
      }
    })()
    return this.#reading
  }

  async #read(): Promise<void> {
    for (;;) {
      // Far behind (a hub back from a long pause): only the newest `capacity` can be replayed anyway.
      const newest = await lastEventId(this.d.sql)
      const after = Math.max(this.log.lastSeq, newest - this.log.capacity)
      const rows = await eventsAfter(this.d.sql, after, READ_BATCH)
      for (const row of rows) if (row.id > this.log.lastSeq) this.log.appendAt(row.id, row.kind, row.json)
      if (rows.length < READ_BATCH || this.#closed) return
    }
  }

  /** Resolves once every change noted so far is in the table. */
  async flushed(): Promise<void> {
    while (this.#writing) await this.#writing
  }

  close(): void {
    this.#closed = true
    for (const off of this.#unsubscribe) off()
    this.#pending.clear()
  }

  #note(change: Change): void {
    this.#pending.set(changeKey(change), change)
    this.#schedule()
  }

  #schedule(): void {
    if (this.#closed) return
    if (this.#writing) {
      this.#writeAgain = true
      return
    }
    // After this turn, so the changes of one turn become one event each.
    this.#writing = new Promise<void>((resolve) => queueMicrotask(resolve)).then(() => this.#write()).finally(() => {
      this.#writing = null
      if (this.#writeAgain) {
        this.#writeAgain = false
        this.#schedule()
      }
    })
  }

  async #write(): Promise<void> {
    const changes = [...this.#pending.values()]
    const published = this.#published
    this.#pending = new Map()
    this.#published = []
    try {
      await this.d.settled()
      // Agents' views are read under the lock (#underLock); the others now, in change order.
      const viewed = await Promise.all(changes.map((c) => c.type === 'agent' ? c.agent_id : this.#view(c)))
      if (viewed.every((v) => v === null) && published.length === 0) return
      const events: { kind: LiveEventKind; payload: unknown }[] = []
      await insertEvents(this.d.sql, events,
        (tx, lastId) => this.d.bus.publish(ALL_HUBS, { kind: EVENTS_NUDGE, id: lastId }, tx),
        async (tx) => {
          await this.#underLock(tx, viewed, events)
          events.push(...published.map(({ kind, view }) => ({ kind, payload: view })))
          for (const e of events) this.d.ownView?.(e.kind, e.payload)
        })
    } catch (err) {
      // The live view misses these (its clients see the next ones); nothing promised is lost.
      this.d.log.warn('could not record cluster events', { error: String(err), events: changes.length + published.length })
    }
  }

  /**
   * Under the events' insert lock, the views of one write, in change order, into `events`: views
   * read there are at least as new as every event already in the table (its inserter's changes
   * committed before it), so an event of this hub never follows another hub's newer one with an
   * older view (a drain on that hub, a rollout stepped there). Agents are read here, in one
   * statement (a read per agent was about 1.1 statements per task under the
   * cluster_task_throughput load); tasks and rollouts read before are read again when they moved.
   */
  async #underLock(tx: Queryable, viewed: Array<string | Viewed | null>, events: { kind: LiveEventKind; payload: unknown }[]): Promise<void> {
    const agentIds = viewed.filter((v) => typeof v === 'string')
    const agents = agentIds.length === 0 ? new Map<string, AgentViewRow>()
      : new Map((await getAgentViews(tx, agentIds)).map((row) => [row.agent_id, row]))
    const rows = new Map<{ payload: unknown }, TaskRow>()
    const rollouts: Array<[{ payload: unknown }, string]> = []
    for (const v of viewed) {
      if (v === null) continue
      if (typeof v === 'string') {
        const row = agents.get(v)
        if (row) events.push({ kind: 'agent', payload: agentRowView(row) })
        continue
      }
      const event = { kind: v.kind, payload: v.payload }
      events.push(event)
      if (v.row) rows.set(event, v.row)
      if (v.rolloutId) rollouts.push([event, v.rolloutId])
    }
    await this.#freshTaskViews(tx, rows)
    // Rollouts change seldom: each is read again, from the rows as they stand now.
    for (const [event, rolloutId] of rollouts) event.payload = (await this.d.rolloutView(rolloutId)) ?? event.payload
  }

  /**
   * Under the events' insert lock: a task's view read before it (or kept from this hub's own
   * statement) may be older than an event another hub has stored since for the same task (a
   * creation here, its completion there); such a view is read again, so the stream never ends a
   * task on a state it has left. One read of the tasks' stamps, and a row only when one moved.
   */
  async #freshTaskViews(tx: Queryable, rows: Map<{ payload: unknown }, TaskRow>): Promise<void> {
    if (rows.size === 0) return
    const stamps = new Map((await taskStamps(tx, [...rows.values()].map((r) => r.task_id))).map((s) => [s.task_id, s]))
    for (const [event, was] of rows) {
      const now = stamps.get(was.task_id)
      if (!now || (now.status === was.status && now.updated_at === was.updated_at)) continue
      const row = await getTask(tx, was.task_id)
      if (row) event.payload = taskView(row)
    }
  }

  /** The current view of what changed (not an agent's), from the rows; nothing when it is gone by now. */
  async #view(change: Exclude<Change, { type: 'agent' }>): Promise<Viewed | null> {
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
