/**
 * What the hub knows of one agent: the record the Fleet owns (fleet.ts) and changes through its
 * named methods, and what others may read of it.
 */
import type { Pm2Info, StatsMessage } from '../../shared/protocol.ts'
import type { Peer } from '../sockets/bus.ts'
import type { Restart } from './restart.ts'
import type { Host } from '../../shared/host-facts.ts'

export type AgentStatus = 'idle' | 'working' | 'restarting' | 'offline'

/** The sidecar's last `stats` report, and when the hub received it. */
export type AgentStats = Omit<StatsMessage, 'type'> & { at: number }

export interface AgentState {
  agent_id: string
  peer: Peer | null
  connected_at: number | null
  last_seen: number | null
  pm2_info: Pm2Info | null
  /** The package version and host facts its sidecar sent at its last identify (null: none sent). */
  version: string | null
  host: Host | null
  supervised: boolean
  /** Random per sidecar process: tells a new process when pm2 info is unavailable. */
  instance_id: string | null
  /** AGENTCOM_LABELS as last identified ([] for a sidecar that sends none). */
  labels: readonly string[]
  drained: boolean
  /** Healing's crash-loop quarantine: drained too, and both end with resume(). */
  quarantined: boolean
  /** Healing holds the agent for a restart its budget has not let start yet: no new task. */
  heldForRestart: boolean
  stats: AgentStats | null
  restart: Restart | null
  /** The task in flight on this agent (assigned, working, or awaiting its report after a drop). */
  task_id: string | null
}

/**
 * The one rule for an agent's status, from either store (the Fleet's records, a cluster's rows;
 * hub/pg/agent-views.ts filters by the same rule in SQL): `connected` is whether it has a live socket.
 */
export function agentStatus(connected: boolean, a: { readonly task_id: string | null; readonly restart: { readonly state: string } | null }): AgentStatus {
  if (a.restart?.state === 'restarting') return 'restarting'
  if (!connected) return 'offline'
  return a.task_id ? 'working' : 'idle'
}

/** An agent as others see it: read-only, changed through the Fleet's methods. */
export type AgentRecord = Readonly<AgentState>

export interface Hello {
  pm2_info: Pm2Info | null
  supervised: boolean
  instance_id: string | null
  version?: string | null
  host?: Host | null
  labels?: readonly string[]
}

/** A record for an agent seen for the first time. */
export function blankAgent(agentId: string, supervised: boolean): AgentState {
  return {
    agent_id: agentId, peer: null, connected_at: null, last_seen: null, pm2_info: null, version: null, host: null,
    supervised, instance_id: null, labels: [], drained: false, quarantined: false, heldForRestart: false,
    stats: null, restart: null, task_id: null,
  }
}
