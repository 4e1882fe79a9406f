/**
 * What the rollout engine (engine.ts) asks of wherever rollouts are kept: named operations,
 * each resolved once its change is durable. Two implementations: one hub's memory, saved to
 * its data dir (memory-store.ts), and the cluster's rows (hub/pg/pg-rollout-store.ts), where
 * a rollout has an owner hub with a lease and each step is one transaction under its row lock.
 */
import type { RestartMode } from '../../shared/protocol.ts'
import type { RestartState } from '../agents/restart.ts'

export type RolloutState = 'running' | 'completed' | 'failed' | 'cancelled'

/** One agent of a rollout, in its order, as the store reads it. */
export interface RolloutAgentRecord {
  position: number
  agent_id: string
  /** The restart it was given at its turn; null before that. */
  restart_id: string | null
  /** That restart's state and error as they are now (null before its turn). */
  restart_state: RestartState | null
  restart_error: string | null
  /** Set when the agent could not be commanded at its turn. */
  error: string | null
}

export interface RolloutRecord {
  rollout_id: string
  state: RolloutState
  reason: string
  mode: RestartMode
  deadline_s: number | null
  max_unavailable: number
  error: string | null
  created_at: number
  updated_at: number
  agents: RolloutAgentRecord[]
}

export interface NewRollout {
  rollout_id: string
  reason: string
  agent_ids: string[]
  max_unavailable: number
  mode: RestartMode
  deadline_s: number | null
}

/** A restart a rollout commands for one agent at its turn. */
export interface RolloutRestartCommand {
  restart_id: string
  reason: string
  mode: RestartMode
  deadline_s: number | null
  rollout_id: string
}

/**
 * How commanding went: the restart the agent has now (ours, or one already pending, which the
 * rollout then follows) and whether it is still pending; or why it could not be commanded.
 */
export type CommandedRestart =
  | { ok: true; restart_id: string; pending: boolean }
  | { ok: false; error: 'agent_not_connected' | 'not_supervised' }

/**
 * The operations of one step, under the rollout's lock (memory: one step per rollout at a time;
 * PostgreSQL: the step's transaction holds the row). Nothing of it is durable before the step
 * resolves; the restarts commanded are carried out (delivered to the agents) once it is.
 */
export interface RolloutStep {
  /** The rollout as read under the lock (running, and stepped by this hub). */
  readonly rollout: RolloutRecord
  /** The agents as they are now, with their restarts' states. */
  agents(): Promise<RolloutAgentRecord[]>
  /** Commands the agent's restart (memory: the Fleet; cluster: the restart row and the bus). */
  commandRestart(agentId: string, cmd: RolloutRestartCommand): Promise<CommandedRestart>
  /** The agent at `position` got its restart. */
  recordRestart(position: number, restartId: string): Promise<void>
  /** The agent at `position` is offline at its turn: counted from its first such step. Returns ms waited. */
  markWaiting(position: number): Promise<number>
  setAgentError(position: number, error: string): Promise<void>
  finish(state: Exclude<RolloutState, 'running'>, error: string | null): Promise<boolean>
  /** Something moved: updated_at is now. */
  touch(): Promise<void>
}

export interface RolloutStore {
  /** The rollout, running, stepped by this hub from now on. */
  insert(rollout: NewRollout): Promise<void>
  /** null: unknown (or forgotten as one of the oldest finished). */
  get(rolloutId: string): Promise<RolloutRecord | null>
  /** Every connected agent that runs under pm2, by agent id: a rollout's agents when none are named. */
  defaultAgents(): Promise<string[]>
  /** The named agents the store knows, with whether each runs under pm2. */
  knownAgents(agentIds: string[]): Promise<Map<string, { supervised: boolean }>>
  /**
   * The running rollouts this hub steps now. Memory: all of them. PostgreSQL: its own (lease
   * renewed) and those whose owner's lease ran out (taken over, `taken_from` that owner).
   */
  take(): Promise<Array<{ rollout_id: string; taken_from: string | null }>>
  /**
   * Runs `fn` under the rollout's lock when it is running and this hub steps it (else resolves
   * null without calling it); resolves once the step's changes are durable, with the restarts it
   * recorded for agents on this hub, for the hub's restart engine to deliver now (memory: none,
   * the Fleet commands them itself).
   */
  step<T>(rolloutId: string, fn: (step: RolloutStep) => Promise<T>): Promise<{ result: T; deliver?: string[] } | null>
  /** Ends a running rollout as cancelled; false if it was not running. */
  cancel(rolloutId: string): Promise<boolean>
  /** The rollout moved here: the other hubs hear it (a cluster's bus). One hub has none to tell. */
  announce?(rolloutId: string): Promise<void>
}

export const isPendingState = (state: RestartState | null): boolean =>
  state === 'commanded' || state === 'deferred' || state === 'restarting'
