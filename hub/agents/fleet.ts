/**
 * Every agent the hub has seen, connected or not. The one owner of agent records: every change
 * is a named method here that keeps `available` right and publishes an `agent` change. Restarts
 * are the restart engine's (restart-engine.ts): the Fleet tells it what the agent does and
 * shows the restart it is given. All state lives in this hub instance's memory; see README
 * "Edge-style".
 */
import { CLOSE, compactPm2Info, type Pm2Info } from '../../shared/protocol.ts'
import type { Clock } from '../../shared/time.ts'
import type { Logger } from '../../shared/log.ts'
import { createLocalBus, type AgentBus, type Peer } from '../sockets/bus.ts'
import type { Change, ChangeFeed } from '../events/changes.ts'
import { isPending, type CommandRestart, type Restart } from './restart.ts'
import type { CommandResult } from './restart-engine.ts'
import { agentStatus, blankAgent, type AgentRecord, type AgentState, type AgentStats, type AgentStatus, type Hello } from './agent-record.ts'

export type { Peer } from '../sockets/bus.ts'
export type { AgentRecord, AgentStats, AgentStatus, Hello } from './agent-record.ts'
export { isPending, restartMessage } from './restart.ts'
export type { CommandRestart, Restart, RestartState } from './restart.ts'
export type { CommandResult } from './restart-engine.ts'

/** What the Fleet tells the restart engine (restart-engine.ts), and asks of it. */
export interface FleetRestarts {
  /** `pending`: the agent's pending restart as the store had it when the agent joined (a cluster reads it then). */
  identified(rec: AgentRecord, pending?: Restart | null): void
  disconnected(rec: AgentRecord): void
  restarting(rec: AgentRecord, restartId: string | undefined): void
  taskStarted(rec: AgentRecord): void
  released(rec: AgentRecord): void
  /** Whether a task starting or settling may matter to a restart of the agent (cheap: asked per task). */
  watches(rec: AgentRecord): boolean
  /** One hub's synchronous command (its memory store answers at once). */
  commandNow(agentId: string, cmd: CommandRestart): CommandResult
  /** A restart a previous hub saved with the agent. */
  restored(agentId: string, restart: Restart): void
  forgotten(agentId: string): void
}

export interface FleetOptions {
  clock: Clock
  log: Logger
  /** The restart engine (built after the Fleet, so reached through this). */
  restarts: FleetRestarts
  /** An offline agent holding no task and no pending restart is forgotten this long after it went offline. */
  offlineTtlMs: number
  /** Where every agent change is published. */
  changes: ChangeFeed
  /** How messages reach agents. Default: the local bus over this fleet's connections. */
  bus?: AgentBus
}

/** What a cluster's records say of an agent joining this hub (hub/cluster/presence.ts). */
export interface AgentStanding {
  drained: boolean
  quarantined: boolean
  /** Its pending restart (commanded from any hub), settled by the restart engine at identify. */
  restart: Restart | null
}

/** What a single hub saves of an agent so a hub restart keeps its restart, drain and quarantine. */
export type SavedAgent = Pick<AgentRecord, 'agent_id' | 'supervised' | 'pm2_info' | 'last_seen' | 'drained' | 'quarantined'> & { restart: Restart | null }

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
      this.opts.restarts.forgotten(rec.agent_id)
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
    return agentStatus(rec.peer !== null, rec)
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
    // Handed on while the engine may have a restart to move (an identify's read may still be on its way).
    if (this.opts.restarts.watches(rec)) this.opts.restarts.released(rec)
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
   * One hub, at start: the agents a previous hub saved (hub/state/), offline until they identify.
   * A restart still pending then is waited for as after any disconnect: `restarting`, failed
   * with `timeout` if the agent is not back within the restart timeout.
   */
  restore(saved: readonly SavedAgent[]): void {
    for (const s of saved) {
      if (this.agents.has(s.agent_id)) continue
      this.add({ ...blankAgent(s.agent_id, s.supervised), pm2_info: s.pm2_info, last_seen: s.last_seen, drained: s.drained, quarantined: s.quarantined, restart: s.restart })
      if (s.restart) this.opts.restarts.restored(s.agent_id, s.restart)
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

  /**
   * An agent proved its identity on `peer`. Returns the connection it replaced, if any.
   * `standing`: a cluster's records of it (drained or quarantined from any hub), read as it joined.
   */
  identify(agentId: string, peer: Peer, hello: Hello, standing?: AgentStanding): Peer | null {
    const now = this.opts.clock.now()
    const rec = this.agents.get(agentId) ?? this.add(blankAgent(agentId, hello.supervised))
    if (standing) {
      rec.drained = standing.drained
      rec.quarantined = standing.quarantined
    }
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
    this.opts.restarts.identified(rec, standing?.restart)
    this.opts.changes.publish(identified)
    return replaced
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
    this.opts.restarts.disconnected(rec)
    this.publish(rec)
  }

  /** A frame arrived from the agent. Not published: it happens on every ping. */
  seen(rec: AgentRecord): void {
    this.own(rec).last_seen = this.opts.clock.now()
  }

  /** One hub's restart command, answered at once (the restart engine's commandNow). */
  commandRestart(agentId: string, cmd: CommandRestart): CommandResult {
    return this.opts.restarts.commandNow(agentId, cmd)
  }

  /** The sidecar said it is about to exit for its restart. */
  agentRestarting(rec: AgentRecord, restartId: string | undefined): void {
    this.opts.restarts.restarting(rec, restartId)
  }

  /** The hub saw the agent take a task while a graceful restart waits: show it as deferred. */
  taskStarted(rec: AgentRecord): void {
    if (this.opts.restarts.watches(rec)) this.opts.restarts.taskStarted(rec)
  }

  /** The restart engine's: `restart` is the agent's restart as this hub shows it (one writer). */
  showRestart(agentId: string, restart: Restart): void {
    const rec = this.agents.get(agentId)
    if (!rec) return
    rec.restart = restart
    this.refresh(rec)
  }

  close(): void {
    clearInterval(this.sweep)
  }
}
