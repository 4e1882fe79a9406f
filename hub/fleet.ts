/**
 * Every agent the hub has seen, connected or not, and the restarts commanded to them.
 * All state lives in this hub instance's memory; see README "Edge-style".
 */
import type { HubMessage, Pm2Info, RestartMode } from '../shared/protocol.ts'
import { CLOSE } from '../shared/protocol.ts'
import type { Clock } from '../shared/time.ts'
import type { Logger } from '../shared/log.ts'

/** What the hub needs of a live connection, whatever the runtime. */
export interface Peer {
  send(message: HubMessage): void
  close(code: number, reason: string): void
}

export type RestartState = 'commanded' | 'deferred' | 'restarting' | 'completed' | 'failed'
export type AgentStatus = 'idle' | 'working' | 'restarting' | 'offline'

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

export interface AgentRecord {
  agent_id: string
  peer: Peer | null
  connected_at: number | null
  last_seen: number | null
  pm2_info: Pm2Info | null
  supervised: boolean
  /** Random per sidecar process: tells a new process when pm2 info is unavailable. */
  instance_id: string | null
  drained: boolean
  restart: Restart | null
  /** The task in flight on this agent (assigned, working, or awaiting its report after a drop). */
  task_id: string | null
  timer: ReturnType<typeof setTimeout> | null
}

export const isPending = (r: Restart | null): r is Restart =>
  r !== null && (r.state === 'commanded' || r.state === 'deferred' || r.state === 'restarting')

export interface FleetOptions {
  clock: Clock
  log: Logger
  restartTimeoutMs: number
  newId: () => string
  /** Called whenever an agent may have become able to take a task. */
  onAvailable: () => void
  /** Called after every change of a restart's state. */
  onRestartChange: (agent: AgentRecord, restart: Restart) => void
}

export interface Hello {
  pm2_info: Pm2Info | null
  supervised: boolean
  instance_id: string | null
}

export type CommandRestart = { reason: string; mode: RestartMode; deadline_s: number | null; rollout_id?: string }
export type CommandResult =
  | { ok: true; restart: Restart; already_pending: boolean }
  | { ok: false; error: 'agent_not_connected' | 'not_supervised' }

export class Fleet {
  readonly agents = new Map<string, AgentRecord>()
  /** Agents that could take a task now, in the order they became free. */
  readonly available = new Set<string>()

  constructor(private readonly opts: FleetOptions) {}

  get(agentId: string): AgentRecord | undefined {
    return this.agents.get(agentId)
  }

  status(rec: AgentRecord): AgentStatus {
    if (rec.restart?.state === 'restarting') return 'restarting'
    if (!rec.peer) return 'offline'
    return rec.task_id ? 'working' : 'idle'
  }

  /** Recomputes whether the agent may take a task; dispatch reads only this set. */
  refresh(rec: AgentRecord): void {
    const free = rec.peer !== null && !rec.drained && !rec.task_id && !isPending(rec.restart)
    if (free === this.available.has(rec.agent_id)) return
    if (free) {
      this.available.add(rec.agent_id)
      this.opts.onAvailable()
    } else {
      this.available.delete(rec.agent_id)
    }
  }

  /** An agent proved its identity on `peer`. Returns the connection it replaced, if any. */
  identify(agentId: string, peer: Peer, hello: Hello): Peer | null {
    const now = this.opts.clock.now()
    let rec = this.agents.get(agentId)
    if (!rec) {
      rec = {
        agent_id: agentId, peer: null, connected_at: null, last_seen: null, pm2_info: null,
        supervised: hello.supervised, instance_id: null, drained: false, restart: null, task_id: null, timer: null,
      }
      this.agents.set(agentId, rec)
    }
    const replaced = rec.peer
    rec.peer = peer
    rec.connected_at = now
    rec.last_seen = now
    rec.pm2_info = hello.pm2_info
    rec.supervised = hello.supervised
    rec.instance_id = hello.instance_id
    if (replaced) replaced.close(CLOSE.REPLACED, 'replaced by a new connection')
    this.settleRestartOnIdentify(rec)
    return replaced
  }

  private settleRestartOnIdentify(rec: AgentRecord): void {
    const restart = rec.restart
    if (!isPending(restart)) return
    const info = rec.pm2_info
    const isNewProcess = info && restart.before_restart_count !== null
      ? info.restart_count > restart.before_restart_count || info.pid !== restart.before_pid
      : rec.instance_id !== restart.before_instance
    if (isNewProcess) {
      this.setRestartState(rec, restart, 'completed')
      return
    }
    // The same process is back after a dropped connection: the command may have been lost
    // with it, so it is sent again under the same restart_id (the sidecar ignores repeats).
    this.setRestartState(rec, restart, 'commanded')
    rec.peer?.send(restartMessage(restart))
  }

  /** pm2's view of a connected agent, reported after its identify. */
  reportPm2Info(rec: AgentRecord, info: Pm2Info): void {
    rec.pm2_info = info
  }

  disconnect(rec: AgentRecord, peer: Peer): void {
    if (rec.peer !== peer) return // replaced: the new connection owns the record
    rec.peer = null
    rec.last_seen = this.opts.clock.now()
    this.available.delete(rec.agent_id)
    const restart = rec.restart
    if (isPending(restart)) {
      if (restart.state !== 'restarting') this.setRestartState(rec, restart, 'restarting')
      this.armTimer(rec, restart, 'timeout')
    }
  }

  seen(rec: AgentRecord): void {
    rec.last_seen = this.opts.clock.now()
  }

  commandRestart(agentId: string, cmd: CommandRestart): CommandResult {
    const rec = this.agents.get(agentId)
    if (!rec?.peer) return { ok: false, error: 'agent_not_connected' }
    if (!rec.supervised) return { ok: false, error: 'not_supervised' }
    if (isPending(rec.restart)) return { ok: true, restart: rec.restart, already_pending: true }
    const now = this.opts.clock.now()
    const restart: Restart = {
      restart_id: this.opts.newId(),
      reason: cmd.reason,
      mode: cmd.mode,
      deadline_s: cmd.deadline_s,
      state: rec.task_id && cmd.mode === 'graceful' ? 'deferred' : 'commanded',
      requested_at: now,
      updated_at: now,
      error: null,
      before_restart_count: rec.pm2_info?.restart_count ?? null,
      before_pid: rec.pm2_info?.pid ?? null,
      before_instance: rec.instance_id,
      rollout_id: cmd.rollout_id ?? null,
    }
    rec.restart = restart
    this.available.delete(rec.agent_id)
    rec.peer.send(restartMessage(restart))
    // A sidecar that neither restarts nor defers within the timeout has not obeyed.
    if (restart.state === 'commanded') this.armTimer(rec, restart, 'no_response')
    this.opts.log.info('restart commanded', { agent_id: agentId, restart_id: restart.restart_id, mode: cmd.mode })
    this.opts.onRestartChange(rec, restart)
    return { ok: true, restart, already_pending: false }
  }

  /** The sidecar said it is about to exit for its restart. */
  agentRestarting(rec: AgentRecord, restartId: string | undefined): void {
    const restart = rec.restart
    if (!isPending(restart) || (restartId !== undefined && restartId !== restart.restart_id)) return
    if (restart.state !== 'restarting') this.setRestartState(rec, restart, 'restarting')
  }

  /** A task finished on the agent: a deferred restart now goes ahead. */
  taskSettled(rec: AgentRecord): void {
    const restart = rec.restart
    if (restart?.state === 'deferred') this.setRestartState(rec, restart, 'commanded')
    this.refresh(rec)
  }

  /** The hub saw the agent take a task while a graceful restart waits: show it as deferred. */
  taskStarted(rec: AgentRecord): void {
    const restart = rec.restart
    if (restart?.state === 'commanded' && restart.mode === 'graceful') {
      this.setRestartState(rec, restart, 'deferred')
    }
  }

  setRestartState(rec: AgentRecord, restart: Restart, state: RestartState, error: string | null = null): void {
    restart.state = state
    restart.updated_at = this.opts.clock.now()
    restart.error = error
    this.clearTimer(rec)
    if (state === 'commanded') this.armTimer(rec, restart, 'no_response')
    if (state === 'completed' || state === 'failed') {
      this.opts.log.info(`restart ${state}`, { agent_id: rec.agent_id, restart_id: restart.restart_id, error })
      this.refresh(rec)
    }
    this.opts.onRestartChange(rec, restart)
  }

  private armTimer(rec: AgentRecord, restart: Restart, error: string): void {
    this.clearTimer(rec)
    rec.timer = setTimeout(() => {
      rec.timer = null
      if (isPending(rec.restart) && rec.restart === restart) this.setRestartState(rec, restart, 'failed', error)
    }, this.opts.restartTimeoutMs)
  }

  private clearTimer(rec: AgentRecord): void {
    if (rec.timer) clearTimeout(rec.timer)
    rec.timer = null
  }

  close(): void {
    for (const rec of this.agents.values()) this.clearTimer(rec)
  }
}

export function restartMessage(r: Restart): HubMessage {
  return { type: 'restart_sidecar', reason: r.reason, restart_id: r.restart_id, mode: r.mode, deadline_s: r.deadline_s }
}
