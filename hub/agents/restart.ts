/**
 * What a restart is: its record, when it is pending, how it is built from a command and sent,
 * and how a new identify tells that it happened. The fleet owns the records (fleet.ts).
 */
import type { HubMessage, Pm2Info, RestartMode } from '../../shared/protocol.ts'

export type RestartState = 'commanded' | 'deferred' | 'restarting' | 'completed' | 'failed'

export interface Restart {
  restart_id: string
  reason: string
  mode: RestartMode
  deadline_s: number | null
  state: RestartState
  requested_at: number
  updated_at: number
  /** Why a restart failed: `timeout` or `no_response`. */
  error: string | null
  /** pm2's restart count and pid before the command, to tell a new process from the old one. */
  before_restart_count: number | null
  before_pid: number | null
  before_instance: string | null
  rollout_id: string | null
}

export type CommandRestart = {
  reason: string
  mode: RestartMode
  deadline_s: number | null
  rollout_id?: string
  /** Set when the restart was recorded elsewhere first (cluster mode): delivered under that id. */
  restart_id?: string
}

export const isPending = (r: Restart | null): r is Restart =>
  r !== null && (r.state === 'commanded' || r.state === 'deferred' || r.state === 'restarting')

/** What the agent runs as, as the fleet last heard it. */
export interface AgentProcessInfo {
  pm2_info: Pm2Info | null
  instance_id: string | null
}

/** What a restart request finds of its agent (one hub: the Fleet; a cluster: the rows, under the agent's lock). */
export interface RestartTarget {
  /** Connected to a hub that may act for it (in a cluster: one whose lease holds). */
  live: boolean
  supervised: boolean
  /** A task is assigned to it or running on it. */
  busy: boolean
  /** The restart it has pending, if any. */
  pending: Restart | null
}

export type RestartVerdict =
  | { kind: 'refused'; error: 'agent_not_connected' | 'not_supervised' }
  | { kind: 'pending'; restart: Restart }
  | { kind: 'new'; state: 'commanded' | 'deferred' }

/**
 * The rules of a restart request, the same in both stores: only a connected agent under pm2 is
 * restarted; one restart per agent (a pending one is the answer to the next request); a graceful
 * restart of an agent with a task waits for it (`deferred`), a force one does not.
 */
export function judgeRestart(target: RestartTarget, mode: RestartMode): RestartVerdict {
  if (!target.live) return { kind: 'refused', error: 'agent_not_connected' }
  if (!target.supervised) return { kind: 'refused', error: 'not_supervised' }
  if (isPending(target.pending)) return { kind: 'pending', restart: target.pending }
  return { kind: 'new', state: target.busy && mode === 'graceful' ? 'deferred' : 'commanded' }
}

/** A new restart of an agent running as `now`; deferred when a graceful one finds a task running. */
export function newRestart(cmd: CommandRestart, now: number, restartId: string, agent: AgentProcessInfo & { busy: boolean }): Restart {
  return {
    restart_id: restartId,
    reason: cmd.reason,
    mode: cmd.mode,
    deadline_s: cmd.deadline_s,
    state: agent.busy && cmd.mode === 'graceful' ? 'deferred' : 'commanded',
    requested_at: now,
    updated_at: now,
    error: null,
    before_restart_count: agent.pm2_info?.restart_count ?? null,
    before_pid: agent.pm2_info?.pid ?? null,
    before_instance: agent.instance_id,
    rollout_id: cmd.rollout_id ?? null,
  }
}

/** Whether an agent that identified as `now` is a new process since `restart` was commanded. */
export function restartedSince(restart: Restart, now: AgentProcessInfo): boolean {
  const info = now.pm2_info
  return info && restart.before_restart_count !== null
    ? info.restart_count > restart.before_restart_count || info.pid !== restart.before_pid
    : now.instance_id !== restart.before_instance
}

export function restartMessage(r: Restart): HubMessage {
  return { type: 'restart_sidecar', reason: r.reason, restart_id: r.restart_id, mode: r.mode, deadline_s: r.deadline_s }
}
