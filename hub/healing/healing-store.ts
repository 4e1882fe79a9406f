/**
 * What healing asks of wherever its fleet-wide state is kept: named operations, each resolved
 * once its change is durable. The store counts (crashes, restarts within the window, cooldowns,
 * restarts in flight, a running rollout) and records; it never decides: the rules
 * (healing-rules.ts, HealingPolicy's) judge its counts, in the decider (healing-decider.ts)
 * and the crash-loop check (hub-healing.ts). One hub's implementation is memory-healing-store.ts
 * (saved in the data dir); the cluster's is hub/pg/pg-healing-store.ts, where a decision and its
 * restart row are one transaction under the decider's lease.
 */
import type { HealingAction } from './healing-history.ts'
import type { AgentBudget, FleetBudget } from './healing-rules.ts'
import type { HealingSettings } from './healing-settings.ts'

export type RequestRule = 'memory' | 'task_overdue'

/** A healing restart asked for (an overdue task's, or memory above the limit), with the agent as it is now. */
export interface HealingRequest {
  agent_id: string
  rule: RequestRule
  detail: string
  /** Connected to a hub whose lease holds. */
  live: boolean
  supervised: boolean
  quarantined: boolean
  budget: AgentBudget
}

/** One decision step, under the decider's lease: nothing is durable before the step resolves. */
export interface HealingStep {
  readonly paused: boolean
  /** Restart actions that moved on with their restarts since the last step. */
  readonly moved: HealingAction[]
  readonly fleet: FleetBudget
  /** Overdue restarts first (they are never dropped), then the oldest. */
  readonly requests: HealingRequest[]
  /** Commands the request's restart and records its action; null if the agent could not take one now. */
  startRestart(req: HealingRequest, cmd: { action_id: string; restart_id: string; mode: 'graceful' | 'force'; reason: string }): Promise<HealingAction | null>
  recordEscalation(req: HealingRequest, actionId: string, detail: string): Promise<HealingAction>
  /** The request goes (memory: refused ones are asked again by the next report; any: pm2 cannot restart it). */
  dropRequest(agentId: string, rule?: RequestRule): Promise<void>
}

export interface HealingStore {
  paused(): Promise<boolean>
  /** Sets the flag fleet-wide and tells every hub. */
  setPaused(paused: boolean): Promise<void>
  /** The newest `limit` actions, newest first. */
  actions(limit: number): Promise<HealingAction[]>
  action(actionId: string): Promise<HealingAction | null>
  /**
   * The agent came back a new process, `restarts` after the last one seen: under the agent's
   * lock, its waiting request goes, and unless a restart was commanded or it is quarantined the
   * restarts are counted; `judge(crashes, paused)` says whether that is a crash loop, and if so
   * the agent is quarantined (drained, flagged) with the action `detail(crashes)` names.
   */
  crashesSeen(agentId: string, restarts: number, actionId: string, judge: (crashes: number, paused: boolean) => boolean,
    detail: (crashes: number) => string): Promise<HealingAction | null>
  /** Asks the decider for a restart; true when new (or an overdue one replaced a memory one). */
  fileRequest(agentId: string, rule: RequestRule, detail: string): Promise<boolean>
  dropMemoryRequest(agentId: string): Promise<void>
  /** Whether a request of the agent waits for the decider (one hub steps when such an agent comes back online). */
  hasRequest(agentId: string): Promise<boolean>
  /** Whether a step could do anything: a request waits, or a healing restart is in flight (one hub steps on a fleet change only then). */
  hasWork(): Promise<boolean>
  /**
   * An operator resumed the agent: its quarantine actions, if any, are `lifted` and its crashes
   * start over. Returns the ids of the actions changed.
   */
  liftQuarantine(agentId: string): Promise<string[]>
  /** Agents whose overdue force restart waits or runs: they get no task meanwhile. */
  waitingOverdue(): Promise<Set<string>>
  /**
   * Runs `fn` as the one decider (taking or renewing its lease), resolving once its decisions are
   * durable and the restarts it commanded for agents here delivered; null when another decides.
   */
  decide<T>(fn: (step: HealingStep) => Promise<T>): Promise<{ result: T; previous: string | null } | null>
  /** A clean stop: another hub may decide from its next step. */
  releaseDecider(): Promise<void>
  /**
   * Tells every hub's decider to look now (a cluster: NOTIFY; the decider's hub steps). Unset:
   * one hub, whose decider is its own and steps at once (hub/healing/healing-runtime.ts).
   */
  wakeDecider?(): Promise<void>
}

/**
 * What a hub opens its healing store with (HubStore.healing): the rules' settings, whose window
 * and cooldown the store counts within, and how a restart the decider commanded for an agent on
 * this hub reaches it once the step is durable (the hub's restart engine).
 */
export interface HealingStoreContext {
  settings: HealingSettings
  deliverRestart(restartId: string): Promise<void>
}
