/**
 * What `GET /api/admin/events` tells: the owner of the hub's EventLog. It follows the change
 * feed and appends the whole view of whatever changed (`agent`, `task`, `rollout`, `healing`),
 * and takes views from modules that are not on the feed through `publish`. Changes of
 * one thing within one turn of the event loop become one event carrying its latest view: an
 * identify that moves an agent three times is one `agent` event, not three.
 */
import { changeKey, type ChangeFeed, type Change } from './changes.ts'
import type { Fleet } from '../agents/fleet.ts'
import type { HubTaskOwner } from '../tasks/hub-task-owner.ts'
import type { RolloutRecord } from '../rollouts/rollout-store.ts'
import type { HealingAction } from '../healing/healing-history.ts'
import { EventLog, type EventLogOptions } from './event-log.ts'
import { recordView, rolloutView, taskView } from '../api/views.ts'

/** The event names the stream carries, besides `reset`. `audit` is published by the audit trail (hub/access/). */
export type LiveEventKind = 'agent' | 'task' | 'rollout' | 'healing' | 'audit'

/** What the events route streams from: this hub's LiveEvents, or the cluster's (hub/cluster/cluster-events.ts). */
export interface LiveEventSource {
  readonly log: EventLog
  /** Appends an event whose view its owner has already shaped (healing actions). */
  publish(kind: LiveEventKind, view: unknown): void
  close(): void
}

export interface LiveEventsOptions {
  changes: ChangeFeed
  fleet: Fleet
  tasks: HubTaskOwner
  /** This hub's rollouts as they are now (hub/rollouts/memory-store.ts). */
  rollouts: { peek(rolloutId: string): RolloutRecord | undefined }
  /** This hub's id, the `hub_id` of the agents it holds. */
  hubId: string
  /** Where a `healing` change's action is read (`HealingAction`, shaped by the policy's history). */
  healing: { action(actionId: string): HealingAction | undefined }
  log?: EventLogOptions
}

export class LiveEvents implements LiveEventSource {
  readonly log: EventLog
  /** What changed since the last flush, by `<kind>:<id>`, in the order it first changed. */
  #pending = new Map<string, Change>()
  #flushScheduled = false
  #unsubscribe: () => void

  constructor(private readonly opts: LiveEventsOptions) {
    this.log = new EventLog(opts.log)
    this.#unsubscribe = opts.changes.subscribe((change) => this.#note(change))
  }

  /**
   * Appends an event whose view its owner has already shaped, e.g. `publish('healing',
   * healingActionView)`, a snapshot nothing changes afterwards (EventLog.append). Not
   * coalesced: each call is one event, in order with the feed's.
   */
  publish(kind: LiveEventKind, view: unknown): void {
    this.flush()
    this.log.append(kind, view)
  }

  /** Appends the events for every change noted so far; runs on its own once per turn. */
  flush(): void {
    const pending = this.#pending
    if (pending.size === 0) return
    this.#pending = new Map()
    for (const change of pending.values()) {
      const event = this.#view(change)
      if (event) this.log.append(event.kind, event.view)
    }
  }

  close(): void {
    this.#unsubscribe()
    this.#pending.clear()
  }

  #note(change: Change): void {
    this.#pending.set(changeKey(change), change)
    if (this.#flushScheduled) return
    this.#flushScheduled = true
    queueMicrotask(() => {
      this.#flushScheduled = false
      this.flush()
    })
  }

  /** The current view of what changed; nothing when it is gone by now. */
  #view(change: Change): { kind: LiveEventKind; view: unknown } | null {
    const { fleet, tasks, rollouts, healing, hubId } = this.opts
    switch (change.type) {
      case 'agent': {
        const rec = fleet.get(change.agent_id)
        return rec ? { kind: 'agent', view: recordView(rec, hubId) } : null
      }
      case 'task': {
        const task = tasks.get(change.task_id)
        return task ? { kind: 'task', view: taskView(task) } : null
      }
      case 'rollout': {
        const rollout = rollouts.peek(change.rollout_id)
        return rollout ? { kind: 'rollout', view: rolloutView(rollout) } : null
      }
      case 'healing': {
        const action = healing.action(change.action_id)
        return action ? { kind: 'healing', view: action } : null
      }
    }
  }
}
