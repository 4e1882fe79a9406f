/**
 * Every agent the hub has seen, connected or not, and the restarts commanded to them. The one
 * owner of agent records: every change is a named method here that keeps `available` right
 * and publishes an `agent` change. All state lives in this hub instance's memory; see README
 * "Edge-style".
 */
import { CLOSE, compactPm2Info, type Pm2Info } from '../../shared/protocol.ts'
import type { Clock } from '../../shared/time.ts'
import type { Logger } from '../../shared/log.ts'
import { createLocalBus, type AgentBus, type Peer } from '../sockets/bus.ts'
import type { Change, ChangeFeed } from '../events/changes.ts'
import { isPending, newRestart, restartedSince, restartMessage, type CommandRestart, type Restart, type RestartState } from './restart.ts'
import { blankAgent, type AgentRecord, type AgentState, type AgentStats, type AgentStatus, type Hello } from './agent-record.ts'

export type { Peer } from '../sockets/bus.ts'
export type { AgentRecord, AgentStats, AgentStatus, Hello } from './agent-record.ts'
export { isPending, restartMessage } from './restart.ts'
export type { CommandRestart, Restart, RestartState } from './restart.ts'

export interface FleetOptions {
  clock: Clock
  log: Logger
  restartTimeoutMs: number
  /** An offline agent holding no task and no pending restart is forgotten this long after it went offline. */
  offlineTtlMs: number
  newId: () => string
  /** Where every agent change is published. */
  changes: ChangeFeed
  /** How messages reach agents. Default: the local bus over this fleet's connections. */
  bus?: AgentBus
}

/** What a single hub saves of an agent so a hub restart keeps its restart, drain and quarantine. */
export type SavedAgent = Pick<AgentRecord, 'agent_id' | 'supervised' | 'pm2_info' | 'last_seen' | 'drained' | 'quarantined'> & { restart: Restart | null }

export type CommandResult =
  | { ok: true; restart: Restart; already_pending: boolean }
  | { ok: false; error: 'agent_not_connected' | 'not_supervised' }

export class Fleet {
  private readonly agents = new Map<string, AgentState>()
  private readonly free = new Set<string>()
  /** `list()`'s answer, rebuilt only when an agent is new (or, as a safety net, gone). */
  private sorted: AgentRecord[] | null = null
  readonly bus: AgentBus
  private readonly sweep: ReturnType<typeof setInterval>

  constructor(private readonly opts: FleetOptions) {
    this.bus = opts.bus ?? createLocalBus((agentId) => this.agents.get(agentId)?.peer ?? null)
    // Checked at least every minute, so an agent is forgotten at most a minute past its TTL.
    this.sweep = setInterval(() => this.forgetOffline(), Math.min(opts.offlineTtlMs, 60_000))
  }

  /** Forgets agents offline past the TTL with nothing the hub still owes them or waits on. */
  private forgetOffline(): void {
    const deadline = this.opts.clock.now() - this.opts.offlineTtlMs
    for (const rec of this.agents.values()) {
      if (rec.peer || rec.task_id || isPending(rec.restart) || (rec.last_seen ?? 0) > deadline) continue
      this.clearTimer(rec)
      this.agents.delete(rec.agent_id)
      this.free.delete(rec.agent_id)
      this.opts.log.info('offline agent forgotten', { agent_id: rec.agent_id, offline_ttl_ms: this.opts.offlineTtlMs })
      this.publish(rec)
    }
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

  private add(rec: AgentState): AgentState {
    this.agents.set(rec.agent_id, rec)
    this.sorted = null
    return rec
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
    const free = rec.peer !== null && !rec.drained && !rec.heldForRestart && !rec.task_id && !isPending(rec.restart)
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
    return this.setDrained(agentId, true, this.agents.get(agentId)?.quarantined ?? false)
  }

  /** Takes tasks again; lifts a quarantine too. */
  resume(agentId: string): AgentRecord | undefined {
    return this.setDrained(agentId, false, false)
  }

  /** Healing's quarantine: drained and flagged until resume(). */
  quarantine(agentId: string): AgentRecord | undefined {
    return this.setDrained(agentId, true, true)
  }

  private setDrained(agentId: string, drained: boolean, quarantined: boolean): AgentRecord | undefined {
    const rec = this.agents.get(agentId)
    if (!rec) return undefined
    rec.drained = drained
    rec.quarantined = quarantined
    this.refresh(rec)
    this.publish(rec)
    return rec
  }

  /**
   * Cluster mode, before `identify`: what the cluster's records say of an agent arriving here,
   * perhaps from another hub (drained, a restart still pending), so identify settles it as if
   * it had been here all along.
   */
  adopt(agentId: string, shared: { drained: boolean; quarantined: boolean; restart: Restart | null }): void {
    const rec = this.agents.get(agentId) ?? this.add(blankAgent(agentId, false))
    rec.drained = shared.drained
    rec.quarantined = shared.quarantined
    if (shared.restart && rec.restart?.restart_id !== shared.restart.restart_id) {
      this.clearTimer(rec)
      rec.restart = shared.restart
    }
  }

  /**
   * One hub, at start: the agents a previous hub saved (hub/state/), offline until they identify.
   * A restart still pending then is waited for as after any disconnect: `restarting`, failed
   * with `timeout` if the agent is not back within the restart timeout.
   */
  restore(saved: readonly SavedAgent[]): void {
    for (const s of saved) {
      if (this.agents.has(s.agent_id)) continue
      const rec = this.add({ ...blankAgent(s.agent_id, s.supervised), pm2_info: s.pm2_info, last_seen: s.last_seen, drained: s.drained, quarantined: s.quarantined, restart: s.restart })
      if (isPending(s.restart)) {
        s.restart.state = 'restarting'
        this.armTimer(rec, s.restart, 'timeout')
      }
    }
  }

  /** Healing holds (or lets go of) an agent whose restart waits for its budget. */
  holdForRestart(agentId: string, held: boolean): void {
    const rec = this.agents.get(agentId)
    if (!rec || rec.heldForRestart === held) return
    rec.heldForRestart = held
    this.refresh(rec)
    this.publish(rec)
  }

  /** The sidecar reported its stats; published so views and healing see them. */
  recordStats(rec: AgentRecord, stats: Omit<AgentStats, 'at'>): void {
    this.own(rec).stats = { ...stats, at: this.opts.clock.now() }
    this.opts.changes.publish({ type: 'agent', agent_id: rec.agent_id, stats: true })
  }

  /** An agent proved its identity on `peer`. Returns the connection it replaced, if any. */
  identify(agentId: string, peer: Peer, hello: Hello): Peer | null {
    const now = this.opts.clock.now()
    const rec = this.agents.get(agentId) ?? this.add(blankAgent(agentId, hello.supervised))
    const replaced = rec.peer
    // Its close event arrives later and finds the record already on the new connection.
    if (replaced) this.bus.closeAgent(agentId, CLOSE.REPLACED, 'replaced by a new connection')
    rec.peer = peer
    rec.connected_at = now
    rec.last_seen = now
    rec.pm2_info = hello.pm2_info && compactPm2Info(hello.pm2_info)
    rec.supervised = hello.supervised
    rec.instance_id = hello.instance_id
    rec.version = hello.version ?? null
    rec.host = hello.host ?? null
    rec.labels = hello.labels ?? []
    const identified: Change = { type: 'agent', agent_id: agentId, identified: { restart_pending: isPending(rec.restart) } }
    this.settleRestartOnIdentify(rec)
    this.opts.changes.publish(identified)
    return replaced
  }

  private settleRestartOnIdentify(rec: AgentState): void {
    const restart = rec.restart
    if (!isPending(restart)) return
    if (restartedSince(restart, rec)) {
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
    this.own(rec).pm2_info = compactPm2Info(info)
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
    const restart = newRestart(cmd, this.opts.clock.now(), cmd.restart_id ?? this.opts.newId(), { ...rec, busy: rec.task_id !== null })
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
    clearInterval(this.sweep)
    for (const rec of this.agents.values()) this.clearTimer(rec)
  }
}
