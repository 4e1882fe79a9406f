/**
 * The cluster's EventLogStore (hub/events/event-log-store.ts): the `events` rows, one inserter
 * at a time under their lock (event-rows.ts), the commit NOTIFYing every hub, this one included,
 * with the newest id: the wake-up. Ids are the rows', under the cluster's epoch, the same on
 * every hub, so a client may resume on any of them.
 */
import type { EventLogStore, NewEvent } from '../events/event-log-store.ts'
import { EVENT_LOG_DEFAULTS, LoggedEvent } from '../events/event-log.ts'
import type { Queryable, Sql } from './connect.ts'
import { clusterEpoch, eventsAfter, insertEvents, lastEventId, pruneEvents } from './event-rows.ts'
import { ALL_HUBS, type PgBus } from './notify-bus.ts'

/** Bus message: events up to `id` are in the table. */
export const EVENTS_NUDGE = 'events'

/** The table: at most this many rows' events, and past an hour only the newest `capacity` (at least 1000, the replay promise). */
const RETENTION = { keep: 100_000, minKeep: 1000, maxAgeMs: 3_600_000 }

export interface PgEventStoreOptions {
  sql: Sql
  bus: PgBus
  /** Events kept for Last-Event-ID replay (createHub's eventBuffer). Default 1000. */
  capacity?: number
}

export class PgEventLogStore implements EventLogStore<Queryable> {
  readonly capacity: number

  private constructor(readonly epoch: string, private readonly o: PgEventStoreOptions) {
    this.capacity = o.capacity ?? EVENT_LOG_DEFAULTS.capacity
  }

  /** Reads the cluster's epoch (cluster_meta, set by the migration). */
  static async open(o: PgEventStoreOptions): Promise<PgEventLogStore> {
    return new PgEventLogStore(await clusterEpoch(o.sql), o)
  }

  append(collect: (tx: Queryable) => NewEvent[] | Promise<NewEvent[]>): Promise<number> {
    const events: { kind: string; payload: unknown }[] = []
    return insertEvents(this.o.sql, events,
      (tx, lastId) => this.o.bus.publish(ALL_HUBS, { kind: EVENTS_NUDGE, id: lastId }, tx),
      async (tx) => {
        for (const e of await collect(tx)) events.push({ kind: e.kind, payload: e.view })
      })
  }

  async after(seq: number, limit: number): Promise<LoggedEvent[]> {
    return (await eventsAfter(this.o.sql, seq, limit)).map((row) => new LoggedEvent(this.epoch, row.id, row.kind, undefined, row.json))
  }

  newest(): Promise<number> {
    return lastEventId(this.o.sql)
  }

  trim(): Promise<number> {
    const minKeep = Math.max(RETENTION.minKeep, this.capacity)
    return pruneEvents(this.o.sql, { ...RETENTION, minKeep, keep: Math.max(RETENTION.keep, minKeep) })
  }

  onAppended(listener: (seq: number) => void): () => void {
    return this.o.bus.subscribe((message) => {
      if (message.kind === EVENTS_NUDGE) listener(typeof message.id === 'number' ? message.id : 0)
    })
  }
}
