/**
 * The hub's counters, and how each event is recognized so that it is counted once. They follow
 * what the hub already announces: the views of its own changes (tasks, healing actions), its
 * fleet's restart changes, and the few calls the metrics wrap (task created and accepted,
 * alert delivered). Label values come only from fixed vocabularies; never an id or a reason.
 */
import type { Counter, Histogram, Registry } from './registry.ts'
import { BoundedMap } from './bounded.ts'

export const TASK_FINAL = ['completed', 'failed', 'cancelled'] as const
export const RESTART_KINDS = ['admin', 'rollout', 'healing'] as const
export const RESTART_ENDS = ['completed', 'failed'] as const
export const HEALING_RULES = ['crash_loop', 'memory', 'task_overdue'] as const
/** Healing's alerts and the fleet's (hub/alerts/fleet-alerts.ts): every type the webhook is sent. */
export const ALERT_TYPES = ['agent_quarantined', 'heal_escalated', 'heal_failed', 'agent_offline', 'agent_recovered', 'rollout_failed'] as const
export const ALERT_RESULTS = ['delivered', 'failed'] as const

/** Seconds, from a short task to the longest timeout a task may have (a day). */
export const TASK_DURATION_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 21_600, 86_400]

/** The reasons the hub's healing restarts carry (hub/healing/healing-policy.ts). */
const HEALING_REASONS = new Set(['heal:memory', 'task_overdue'])
/** The states a healing action is recorded in; a later one is a change of an action already counted. */
const HEALING_FIRST_STATES = new Set(['commanded', 'deferred', 'quarantined', 'alerted'])
/** Ids remembered to count each thing once: enough for any burst, bounded for a long-lived hub. */
const REMEMBERED = 20_000
/** A task first seen finished counts only if it finished this recently (not a stale repeat). */
const FRESH_MS = 60_000
/**
 * A healing action first seen past its first state counts if it was recorded this recently: in
 * cluster mode its view is read from the row a moment after, when its restart may have moved on.
 */
const ACTION_FRESH_MS = 10_000

export interface RestartEnd {
  restart_id: string
  state: string
  reason: string
  rollout_id: string | null
}

type TaskSeen = 'open' | 'final'

export class FleetCounters {
  readonly tasksCreated: Counter
  readonly tasksFinished: Counter
  readonly taskDuration: Histogram
  readonly restarts: Counter
  readonly healingActions: Counter
  readonly alerts: Counter
  readonly #tasks = new BoundedMap<string, TaskSeen>(REMEMBERED)
  /** When each task was accepted by its agent here (task_accepted), until it finishes. */
  readonly #acceptedAt = new BoundedMap<string, number>(REMEMBERED)
  readonly #restarts = new BoundedMap<string, true>(REMEMBERED)
  readonly #actions = new BoundedMap<string, true>(REMEMBERED)

  constructor(registry: Registry, hubLabels: Record<string, string>, private readonly now: () => number) {
    const c = (name: string, help: string, labels: string[]) => registry.counter(name, help, labels, hubLabels)
    this.tasksCreated = c('agentcom_tasks_created_total', 'Tasks created through this hub.', [])
    this.tasksFinished = c('agentcom_tasks_finished_total', 'Tasks this hub saw reach a final status.', ['status'])
    this.taskDuration = registry.histogram('agentcom_task_duration_seconds',
      'Seconds from a task\'s acceptance by its agent to its outcome, for tasks accepted and finished on this hub.', TASK_DURATION_BUCKETS, hubLabels)
    this.restarts = c('agentcom_restarts_total', 'Agent restarts that ended, by who asked (kind) and how they ended (state).', ['kind', 'state'])
    this.healingActions = c('agentcom_healing_actions_total', 'Healing actions taken, by rule.', ['rule'])
    this.alerts = c('agentcom_alerts_total', 'Alerts sent to the webhook, by type and result.', ['type', 'result'])
    this.tasksCreated.zero()
    for (const status of TASK_FINAL) this.tasksFinished.zero({ status })
    for (const kind of RESTART_KINDS) for (const state of RESTART_ENDS) this.restarts.zero({ kind, state })
    for (const rule of HEALING_RULES) this.healingActions.zero({ rule })
    for (const type of ALERT_TYPES) for (const result of ALERT_RESULTS) this.alerts.zero({ type, result })
  }

  taskCreated(): void {
    this.tasksCreated.inc()
  }

  /** Its agent said task_accepted to this hub: the duration's start. */
  taskAccepted(taskId: string): void {
    if (!this.#acceptedAt.has(taskId)) this.#acceptedAt.set(taskId, this.now())
  }

  /** A view of something this hub changed, as its events stream tells it. */
  view(kind: string, view: unknown): void {
    if (typeof view !== 'object' || view === null) return
    try {
      if (kind === 'task') this.#task(view as Partial<Record<string, unknown>>)
      else if (kind === 'healing') this.#healing(view as Partial<Record<string, unknown>>)
    } catch {
      // Called from the events' writers: a view the counters cannot read costs its count only.
    }
  }

  /**
   * A restart of an agent on this hub's fleet changed state. Counted once, when it ends.
   * `timedOutElsewhere`: a failure this hub cannot vouch for (cluster mode, the agent gone from
   * here: it may have come back to another hub); the cluster's sweep counts those.
   */
  restartChanged(restart: RestartEnd, timedOutElsewhere = false): void {
    if (restart.state !== 'completed' && restart.state !== 'failed') return
    if (timedOutElsewhere || this.#restarts.has(restart.restart_id)) return
    this.#restarts.set(restart.restart_id, true)
    this.restarts.inc({ kind: restartKind(restart), state: restart.state })
  }

  /** An alert's delivery ended (delivered, or given up on). */
  alert(type: string, result: 'delivered' | 'failed'): void {
    if ((ALERT_TYPES as readonly string[]).includes(type)) this.alerts.inc({ type, result })
  }

  #task(t: Partial<Record<string, unknown>>): void {
    const id = t.task_id
    const status = t.status
    if (typeof id !== 'string' || typeof status !== 'string') return
    const seen = this.#tasks.get(id)
    if (!(TASK_FINAL as readonly string[]).includes(status)) {
      this.#tasks.set(id, 'open')
      // Queued again (interrupted): its next run's acceptance starts the clock anew.
      if (status === 'queued') this.#acceptedAt.delete(id)
      return
    }
    if (seen === 'final') return
    // Seen only finished: a repeat of an old outcome (a late result acknowledged again) unless recent.
    const updatedAt = typeof t.updated_at === 'number' ? t.updated_at : 0
    if (seen === undefined && this.now() - updatedAt > FRESH_MS) return
    this.#tasks.set(id, 'final')
    this.tasksFinished.inc({ status })
    const acceptedAt = this.#acceptedAt.get(id)
    if (acceptedAt !== undefined) {
      this.#acceptedAt.delete(id)
      this.taskDuration.observe(Math.max(0, this.now() - acceptedAt) / 1000)
    }
  }

  #healing(a: Partial<Record<string, unknown>>): void {
    const id = a.action_id
    const rule = a.rule
    if (typeof id !== 'string' || typeof rule !== 'string' || this.#actions.has(id)) return
    this.#actions.set(id, true)
    // First seen in a later state, and not just recorded: an action recorded elsewhere (another
    // hub, or before this one started) that changed here.
    const recent = typeof a.at === 'number' && this.now() - a.at < ACTION_FRESH_MS
    if (typeof a.state !== 'string' || a.state === 'lifted' || !(HEALING_FIRST_STATES.has(a.state) || recent)) return
    if ((HEALING_RULES as readonly string[]).includes(rule)) this.healingActions.inc({ rule })
  }
}

export function restartKind(r: Pick<RestartEnd, 'reason' | 'rollout_id'>): (typeof RESTART_KINDS)[number] {
  if (r.rollout_id !== null) return 'rollout'
  return HEALING_REASONS.has(r.reason) ? 'healing' : 'admin'
}
