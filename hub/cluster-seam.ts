/**
 * The seam between the portable core and cluster mode. createHub builds its owners over its
 * `store` (the cluster's rows when AGENTCOM_DATABASE_URL is set), hands them to a `ClusterAttach`
 * (built by hub/cluster/ in the runtime entries) and uses what it returns: the admission of an
 * identified agent, and what only a cluster has (its lease's claims, its bus). Without it the hub is the single hub it always was.
 */
import type { Logger } from '../shared/log.ts'
import type { TaskOutcome } from '../shared/protocol.ts'
import type { TaskEngine } from './tasks/task-engine.ts'
import type { ChangeFeed } from './events/changes.ts'
import type { AgentRecord, AgentStanding, Fleet, Hello, Peer } from './agents/fleet.ts'
import type { RestartEngine } from './agents/restart-engine.ts'
import type { Restart } from './agents/restart.ts'
import type { LiveEvents } from './events/live-events.ts'
import type { HealingRuntime } from './healing/healing-runtime.ts'
import type { AlertSender } from './alerts/alerts.ts'
import type { FleetCounters } from './metrics/fleet-counters.ts'
import type { RolloutEngine } from './rollouts/engine.ts'

/** What the socket layer tells whoever owns tasks: the hub's HubTaskOwner, in both modes. */
export interface TaskOwner {
  identified(rec: AgentRecord, activeTaskId: string | null): void
  disconnected(rec: AgentRecord): void
  accepted(rec: AgentRecord, taskId: string): void
  finished(rec: AgentRecord, taskId: string, outcome: Exclude<TaskOutcome, { kind: 'interrupted' }>): void
  interrupted(rec: AgentRecord, taskId: string, reason: string, started?: boolean): void
}

/** What the hub hands the cluster (its id and clock are the runtime's own, given at its start). */
export interface LocalOwners {
  fleet: Fleet
  changes: ChangeFeed
  log: Logger
  newId: () => string
  /** The hub's healing (hub/healing/healing-runtime.ts), over its `store.healing` (the cluster's rows): stepped from the sweep and the bus. */
  healing: HealingRuntime
  /** Where this hub's healing alerts go (AGENTCOM_ALERT_WEBHOOK_URL); null: only logged. */
  alerts: AlertSender | null
  /** AGENTCOM_ALERT_OFFLINE_S in ms, for the fleet alerts the decider's hub sends. */
  alertOfflineMs: number
  graceMs: number
  /** Finished tasks kept; older ones are forgotten (404 task_not_found). */
  maxFinishedTasks: number
  taskTimeoutMs: number
  restartTimeoutMs: number
  /** This hub's counters (GET /metrics): fed the views of its own changes and the restarts its sweep fails. */
  metrics?: Pick<FleetCounters, 'view' | 'restartChanged'>
  /** The hub's restart engine, over its `store.restarts` (the cluster's rows): the same engine as a single hub's. */
  restarts: RestartEngine
  /** The hub's rollout engine, over its `store.rollouts` (the cluster's rows): stepped from the bus and the sweep. */
  rollouts: RolloutEngine
  /** The hub's task engine, over its `store.tasks` (the cluster's rows): driven by the sweep, the bus and the admin too. */
  tasks: TaskEngine
  /** The hub's events owner, over its `store.events` (the cluster's rows): caught up after a re-LISTEN and each sweep. */
  events: Pick<LiveEvents, 'catchUp'>
}

export interface ClusterSeam {
  /**
   * An agent proved its identity on `peer` and is about to be taken on here: what the cluster
   * says of it (drained, quarantined, its pending restart). Null: this hub may not take agents now (its lease is not
   * current); the socket is closed with 1013 and the sidecar tries another hub.
   */
  admit(agentId: string, peer: Peer, hello: Hello): Promise<AgentStanding | null>
  /** An admitted connection closed before it became the agent's (revoked or gone meanwhile). */
  leave(agentId: string, peer: Peer): void
  /** How the database is doing, for GET /health (failing_since: null while it answers). */
  storage(): { failing_since: number | null; failed_saves: number }
  /** Whether this hub holds the agent's claim (its lease current): only then does it deliver the agent's restarts. */
  holds(agentId: string): boolean
  /** A restart moved here: the other hubs hear it (its rollout steps on, healing's decider looks). */
  restartMoved(restart: Restart): void
  /** Stops timers and listeners; the entry then stops the cluster runtime itself. */
  close(): void
}

export type ClusterAttach = (local: LocalOwners) => ClusterSeam
