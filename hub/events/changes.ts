/**
 * The hub's in-process change feed (agent, task, rollout and healing changes). Each state
 * owner publishes a nudge naming what changed;
 * other modules subscribe and ask the owner for the truth (a notification is a nudge, the
 * record is the truth). Synchronous and cheap: a listener runs inside the change, so it must
 * be quick; one that throws is reported and does not stop the others or the owner.
 */
export type Change =
  | {
    type: 'agent'
    agent_id: string
    /** Set when this change is the agent's restart changing state. */
    restart_id?: string
    /**
     * Set when this change is the agent identifying; `restart_pending`: the hub had a restart
     * pending for it just before (so a new process is no surprise).
     */
    identified?: { restart_pending: boolean }
    /** Set when this change is a new stats report (`Agent.stats`). */
    stats?: true
  }
  | { type: 'task'; task_id: string }
  | { type: 'rollout'; rollout_id: string }
  /** A healing action was recorded or changed; its view: `hub.healing.action(action_id)`. */
  | { type: 'healing'; action_id: string }

export type ChangeType = Change['type']
export type ChangeListener<T extends ChangeType = ChangeType> = (change: Extract<Change, { type: T }>) => void

export class ChangeFeed {
  private listeners: ChangeListener[] = []

  constructor(private readonly onListenerError: (err: unknown, change: Change) => void = () => {}) {}

  publish(change: Change): void {
    // A listener added or removed during a publish takes effect from the next one.
    for (const listener of this.listeners) {
      try {
        listener(change)
      } catch (err) {
        this.onListenerError(err, change)
      }
    }
  }

  /** Every change, in order. Returns the unsubscribe. */
  subscribe(listener: ChangeListener): () => void {
    this.listeners = [...this.listeners, listener]
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener)
    }
  }

  /** Changes of one type. Returns the unsubscribe. */
  on<T extends ChangeType>(type: T, listener: ChangeListener<T>): () => void {
    return this.subscribe((change) => {
      if (change.type === type) listener(change as Extract<Change, { type: T }>)
    })
  }
}

/** What a change is about (`agent:<id>`, `task:<id>`, ...): changes with one key coalesce. */
export function changeKey(change: Change): string {
  switch (change.type) {
    case 'agent': return `agent:${change.agent_id}`
    case 'task': return `task:${change.task_id}`
    case 'rollout': return `rollout:${change.rollout_id}`
    case 'healing': return `healing:${change.action_id}`
  }
}
