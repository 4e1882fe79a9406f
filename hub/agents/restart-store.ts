/**
 * What the restart engine (restart-engine.ts) asks of wherever restarts are kept: named
 * operations, each resolved once its change is kept. Two implementations: one hub's memory,
 * saved to its data dir with the agents (memory-restart-store.ts), and the cluster's rows
 * (hub/pg/pg-restart-store.ts), where a partial unique index keeps one pending restart per agent
 * whichever hub asks. The rules (restart.ts's judgeRestart, and the engine's moves) live above.
 */
import type { CommandRestart, Restart, RestartState } from './restart.ts'

export type RestartRequestOutcome =
  | {
    ok: true
    restart: Restart
    /** The agent had this restart pending already: nothing new was recorded. */
    already_pending: boolean
    /** This hub holds the agent's socket and delivers the restart; otherwise its hub was told. */
    here: boolean
  }
  | { ok: false; error: 'agent_not_connected' | 'not_supervised' }

export interface RestartStore {
  /**
   * Records a restart for the agent as judgeRestart rules on what the store holds of it now, or
   * answers with the one already pending. `cmd.restart_id` is the new restart's id.
   */
  request(agentId: string, cmd: CommandRestart & { restart_id: string }): Promise<RestartRequestOutcome>
  /** The agent's pending restart, if any. */
  pending(agentId: string): Promise<Restart | null>
  /** A restart by id (pending or over), with its agent; null if unknown. */
  get(restartId: string): Promise<(Restart & { agent_id: string }) | null>
  /**
   * Moves a pending restart of the agent on to `state` (with `error` when failed). False when it
   * was not pending any more (over already, on another hub or by a sweep): a restart that is
   * over never moves again.
   */
  move(agentId: string, restartId: string, state: RestartState, error: string | null): Promise<boolean>
}
