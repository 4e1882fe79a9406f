/**
 * What healing did, newest first, bounded: the `actions` of `GET /api/admin/healing` and the
 * data of `event: healing` on one hub (a cluster keeps them in `healing_actions`). A restart
 * action's `state` follows its restart (MemoryHealingStore moves it).
 */
import type { Clock } from '../../shared/time.ts'

export type HealingRule = 'crash_loop' | 'memory' | 'task_overdue'
export type HealingActionKind = 'restart' | 'quarantine' | 'escalate'

/**
 * A restart action's state is its restart's state (`commanded` until the fleet says more),
 * `failed` also when the restart could not be commanded at all. A quarantine is `quarantined`
 * until an operator resumes the agent (`lifted`); an escalation is `alerted`.
 */
export type HealingActionState =
  | 'commanded' | 'deferred' | 'restarting' | 'completed' | 'failed'
  | 'quarantined' | 'lifted'
  | 'alerted'

export interface HealingAction {
  action_id: string
  agent_id: string
  rule: HealingRule
  action: HealingActionKind
  detail: string
  /** Set once the fleet has commanded the restart; null for quarantine and escalate. */
  restart_id: string | null
  state: HealingActionState
  at: number
  updated_at: number
}

/** Keeps the last `limit` actions (at least 1000). */
export class HealingHistory {
  /** Oldest first; the view reverses it. */
  private readonly actions: HealingAction[] = []
  /** The same actions by action_id, for `event: healing` readers. */
  private readonly byId = new Map<string, HealingAction>()

  constructor(
    private readonly opts: { clock: Clock; newId: () => string; limit: number },
  ) {
    if (!Number.isInteger(opts.limit) || opts.limit < 1000) throw new Error('healing history limit must be an integer >= 1000')
  }

  /** Records a new action now; `action_id` when the caller chose it (a decider step's), else a new one. */
  record(input: { action_id?: string; agent_id: string; rule: HealingRule; action: HealingActionKind; detail: string; state: HealingActionState }): HealingAction {
    const now = this.opts.clock.now()
    const { action_id = this.opts.newId(), ...rest } = input
    const action: HealingAction = { action_id, restart_id: null, ...rest, at: now, updated_at: now }
    this.actions.push(action)
    this.byId.set(action.action_id, action)
    if (this.actions.length > this.opts.limit) this.byId.delete(this.actions.shift()!.action_id)
    return action
  }

  /** One hub, at start: the history a previous hub saved (oldest first), as if recorded here. */
  restore(saved: readonly HealingAction[]): void {
    for (const action of saved.slice(-this.opts.limit)) {
      if (this.byId.has(action.action_id)) continue
      const own = { ...action }
      this.actions.push(own)
      this.byId.set(own.action_id, own)
    }
    while (this.actions.length > this.opts.limit) this.byId.delete(this.actions.shift()!.action_id)
  }

  /** The actions, oldest first, for a save; the same objects, not to be changed. */
  oldestFirst(): readonly HealingAction[] {
    return this.actions
  }

  /** The fleet commanded the action's restart: from now on its state follows `restart_id`. */
  attachRestart(action: HealingAction, restartId: string, state: HealingActionState): void {
    action.restart_id = restartId
    this.setState(action, state)
  }

  /** `at`: when the change happened, if not now (a restart's own change, read at a later decider step). */
  setState(action: HealingAction, state: HealingActionState, detail?: string, at?: number): void {
    action.state = state
    action.updated_at = at ?? this.opts.clock.now()
    if (detail !== undefined) action.detail = detail
  }

  /** A copy of the action, while the history still holds it. */
  get(actionId: string): HealingAction | undefined {
    const action = this.byId.get(actionId)
    return action ? { ...action } : undefined
  }

  /** Copies, newest first. */
  list(): HealingAction[] {
    const out: HealingAction[] = []
    for (let i = this.actions.length - 1; i >= 0; i--) out.push({ ...this.actions[i] })
    return out
  }
}
