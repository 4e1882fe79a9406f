/**
 * Every agent the hub has seen, connected or not, and the restarts commanded to them. The one
 * owner of agent records: every change is a named method here that keeps `available` right
 * and publishes an `agent` change. All state lives in this hub instance's memory; see README
 * "Edge-style".
 */
import type { HubMessage, Pm2Info, RestartMode } from '../shared/protocol.ts'
import { CLOSE } from '../shared/protocol.ts'
import type { Clock } from '../shared/time.ts'
import type { Logger } from '../shared/log.ts'
import { createLocalBus, type AgentBus, type Peer } from './bus.ts'
import type { ChangeFeed } from './changes.ts'

export type { Peer } from './bus.ts'

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

interface AgentState {
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

/** An agent as others see it: read-only, changed through the Fleet's methods. */
export type AgentRecord = Readonly<AgentState>

export const isPending = (r: Restart | null): r is Restart =>
  r !== null && (r.state === 'commanded' || r.state === 'deferred' || r.state === 'restarting')

export interface FleetOptions {
  clock: Clock
  log: Logger
  restartTimeoutMs: number
  newId: () => string
  /** Where every agent change is published. */
  changes: ChangeFeed
  /** How messages reach agents. Default: the local bus over this fleet's connections. */
  bus?: AgentBus
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
  private readonly agents = new Map<string, AgentState>()
  private readonly free = new Set<string>()
  /** `list()`'s answer, rebuilt only when an agent is new (or, as a safety net, gone). */
  private sorted: AgentRecord[] | null = null
  readonly bus: AgentBus

  constructor(private readonly opts: FleetOptions) {
    this.bus = opts.bus ?? createLocalBus((agentId) => this.agents.get(agentId)?.peer ?? null)
  }

  get(agentId: string): AgentRecord | undefined {
    return this.agents.get(agentId)
  }

  /** Every agent the hub has seen, by agent id (so pages of it are stable). Do not modify. */
  list(): readonly AgentRecord[] {
    if (this.sorted?.length !== this.agents.size) {
      this.sorted = [...this.agents.values()].sort((a, b) => (a.agent_id < b.agent_id ? -1 : 1))
    }
    return this.sorted
  }

  /** Agents that could take a task now, in the order they became free. */
  get available(): ReadonlySet<string> {
    return this.free
  }

  isAvailable(agentId: string): boolean {
    return this.free.has(agentId)
  }

  status(rec: AgentRecord): AgentStatus {
    if (rec.restart?.state === 'restarting') return 'restarting'
    if (!rec.peer) return 'offline'
    return rec.task_id ? 'working' : 'idle'
  }

  /** The one writer of a record: callers hold the read-only view of the same object. */
  private own(rec: AgentRecord): AgentState {
    return rec as AgentState
  }

  private publish(rec: AgentRecord, restart?: Restart): void {
    this.opts.changes.publish(restart
      ? { type: 'agent', agent_id: rec.agent_id, restart_id: restart.restart_id }
      : { type: 'agent', agent_id: rec.agent_id })
  }

  /** Recomputes whether the agent may take a task; dispatch reads only this set. */
  private refresh(rec: AgentRecord): void {
    const free = rec.peer !== null && !rec.drained && !rec.task_id && !isPending(rec.restart)
    if (free) this.free.add(rec.agent_id)
    else this.free.delete(rec.agent_id)
  }

  /** The agent now holds `taskId`, assigned by the hub: it takes no other until released. */
  assign(rec: AgentRecord, taskId: string): void {
    this.own(rec).task_id = taskId
    this.refresh(rec)
    this.publish(rec)
  }

  /** The agent's task `taskId` is settled: a deferred restart goes ahead, and it is free again. */
  release(rec: AgentRecord, taskId: string): void {
    if (rec.task_id !== taskId) return
    this.own(rec).task_id = null
    const restart = rec.restart
    if (restart?.state === 'deferred') this.setRestartState(rec, restart, 'commanded')
    this.refresh(rec)
    this.publish(rec)
  }

  /**
   * After a (re)identify, the tasks owner has reconciled what the agent holds (`taskId`, or
   * nothing): a graceful restart waits for that task, and otherwise the agent is free.
   */
  holding(rec: AgentRecord, taskId: string | null): void {
    this.own(rec).task_id = taskId
    if (taskId) this.taskStarted(rec)
    this.refresh(rec)
    this.publish(rec)
  }

  /** No new tasks for the agent until resumed; what it runs now goes on. */
  drain(agentId: string): AgentRecord | undefined {
    return this.setDrained(agentId, true)
  }

  resume(agentId: string): AgentRecord | undefined {
    return this.setDrained(agentId, false)
  }

  private setDrained(agentId: string, drained: boolean): AgentRecord | undefined {
    const rec = this.agents.get(agentId)
    if (!rec) return undefined
    rec.drained = drained
    this.refresh(rec)
    this.publish(rec)
    return rec
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
      this.sorted = null
    }
    const replaced = rec.peer
    // Its close event arrives later and finds the record already on the new connection.
    if (replaced) this.bus.closeAgent(agentId, CLOSE.REPLACED, 'replaced by a new connection')
    rec.peer = peer
    rec.connected_at = now
    rec.last_seen = now
    rec.pm2_info = hello.pm2_info
    rec.supervised = hello.supervised
    rec.instance_id = hello.instance_id
    this.settleRestartOnIdentify(rec)
    this.publish(rec)
    return replaced
  }

  private settleRestartOnIdentify(rec: AgentState): void {
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
    this.bus.sendToAgent(rec.agent_id, restartMessage(restart))
  }

  /** pm2's view of a connected agent, reported after its identify. */
  reportPm2Info(rec: AgentRecord, info: Pm2Info): void {
    this.own(rec).pm2_info = info
    this.publish(rec)
  }

  disconnect(rec: AgentRecord, peer: Peer): void {
    if (rec.peer !== peer) return // replaced: the new connection owns the record
    const state = this.own(rec)
    state.peer = null
    state.last_seen = this.opts.clock.now()
    this.free.delete(rec.agent_id)
    const restart = rec.restart
    if (isPending(restart)) {
      if (restart.state !== 'restarting') this.setRestartState(rec, restart, 'restarting')
      this.armTimer(rec, restart, 'timeout')
    }
    this.publish(rec)
  }

  /** A frame arrived from the agent. Not published: it happens on every ping. */
  seen(rec: AgentRecord): void {
    this.own(rec).last_seen = this.opts.clock.now()
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
    this.free.delete(rec.agent_id)
    this.bus.sendToAgent(agentId, restartMessage(restart))
    // A sidecar that neither restarts nor defers within the timeout has not obeyed.
    if (restart.state === 'commanded') this.armTimer(rec, restart, 'no_response')
    this.opts.log.info('restart commanded', { agent_id: agentId, restart_id: restart.restart_id, mode: cmd.mode })
    this.publish(rec, restart)
    return { ok: true, restart, already_pending: false }
  }

  /** The sidecar said it is about to exit for its restart. */
  agentRestarting(rec: AgentRecord, restartId: string | undefined): void {
    const restart = rec.restart
    if (!isPending(restart) || (restartId !== undefined && restartId !== restart.restart_id)) return
    if (restart.state !== 'restarting') this.setRestartState(rec, restart, 'restarting')
  }

  /** The hub saw the agent take a task while a graceful restart waits: show it as deferred. */
  taskStarted(rec: AgentRecord): void {
    const restart = rec.restart
    if (restart?.state === 'commanded' && restart.mode === 'graceful') {
      this.setRestartState(rec, restart, 'deferred')
    }
  }

  private setRestartState(rec: AgentRecord, restart: Restart, state: RestartState, error: string | null = null): void {
    restart.state = state
    restart.updated_at = this.opts.clock.now()
    restart.error = error
    this.clearTimer(rec)
    if (state === 'commanded') this.armTimer(rec, restart, 'no_response')
    if (state === 'completed' || state === 'failed') {
      this.opts.log.info(`restart ${state}`, { agent_id: rec.agent_id, restart_id: restart.restart_id, error })
      this.refresh(rec)
    }
    this.publish(rec, restart)
  }

  private armTimer(rec: AgentRecord, restart: Restart, error: string): void {
    this.clearTimer(rec)
    const state = this.own(rec)
    state.timer = setTimeout(() => {
      state.timer = null
      if (isPending(rec.restart) && rec.restart === restart) this.setRestartState(rec, restart, 'failed', error)
    }, this.opts.restartTimeoutMs)
  }

  private clearTimer(rec: AgentRecord): void {
    if (rec.timer) clearTimeout(rec.timer)
    this.own(rec).timer = null
  }

  close(): void {
    for (const rec of this.agents.values()) this.clearTimer(rec)
  }
}

export function restartMessage(r: Restart): HubMessage {
  return { type: 'restart_sidecar', reason: r.reason, restart_id: r.restart_id, mode: r.mode, deadline_s: r.deadline_s }
}
