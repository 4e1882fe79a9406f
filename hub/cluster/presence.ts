/**
 * Which agents this hub holds in the cluster, and keeping their rows current. An agent is
 * admitted only after this hub claims its row (while its lease holds); the hub that held it
 * before is told, over the bus, to close its socket (close 4002 across hubs). Each agent's
 * pm2 info and stats are written once per tick, then the release of a socket that closed.
 * Restarts are the restart engine's, kept in their own rows (hub/agents/restart-engine.ts over
 * hub/pg/pg-restart-store.ts). Commands other hubs recorded for these agents (restart, drain,
 * resume) are carried out here, as they arrive and again after every re-LISTEN or tick
 * (`reconcile`), so a missed notification costs a delay, never the command.
 */
import { CLOSE } from '../../shared/protocol.ts'
import type { Logger } from '../../shared/log.ts'
import type { ChangeFeed } from '../events/changes.ts'
import type { AgentStanding, Fleet, Hello, Peer, Restart } from '../agents/fleet.ts'
import type { Sql } from '../pg/connect.ts'
import type { PgBus } from '../pg/notify-bus.ts'
import { claimAgent, heldAgentState, releaseAgent, getAgent, saveAgentState } from '../pg/presence-rows.ts'
import type { HubLease } from './lease.ts'
import type { Pm2Seen } from '../healing/healing-watch.ts'

interface Claim {
  connectionId: string
  peer: Peer
}

export interface PresenceDeps {
  sql: Sql
  bus: PgBus
  lease: HubLease
  hubId: string
  fleet: Pick<Fleet, 'get' | 'drain'>
  changes: ChangeFeed
  log: Logger
  newId: () => string
  /** Delivers a restart recorded for an agent here (RestartEngine.deliver). */
  deliverRestart(restartId: string): Promise<void>
  /** The agent's pending restart in the store (PgRestartStore.pending), read as it joins. */
  pendingRestart(agentId: string): Promise<Restart | null>
  /** Resumes an agent here (healing's resumeAgent: lifts a quarantine too). */
  resumeAgent(agentId: string): void
  /**
   * The agent is being admitted: `before` is the process the cluster last saw of it, `after`
   * the one identifying (ClusterHealing.identified: the crash-loop rule). Settles before the
   * agent's row is read, so a quarantine it makes is what the agent joins with.
   */
  processSeen(agentId: string, before: Pm2Seen | null, after: Pm2Seen | null): Promise<void>
}

export class ClusterPresence {
  private readonly claims = new Map<string, Claim>()
  private readonly dirty = new Set<string>()
  /** The last pm2 info and stats written per agent, so unchanged ones are not written again. */
  private readonly writtenState = new Map<string, string>()
  private flushing: Promise<void> | null = null
  private flushAgain = false
  private readonly unsubscribe: Array<() => void> = []

  constructor(private readonly d: PresenceDeps) {
    this.unsubscribe.push(d.changes.on('agent', (change) => this.markDirty(change.agent_id)))
    this.unsubscribe.push(d.lease.onLost(() => this.letGoOfAll('hub lost its cluster lease')))
  }

  /** Whether this hub holds the agent's socket in the cluster's records. */
  holds(agentId: string): boolean {
    return this.claims.has(agentId)
  }

  /** ClusterSeam.admit: claims the agent's row, tells its former hub, answers what the rows say of it. */
  async admit(agentId: string, peer: Peer, hello: Hello): Promise<AgentStanding | null> {
    const { sql, hubId } = this.d
    if (!this.d.lease.valid) return null
    const connectionId = this.d.newId()
    try {
      const claim = await claimAgent(sql, { hubId, agentId, connectionId, hello })
      if (!claim.ok) return null
      if (claim.previous_hub_id !== null && claim.previous_hub_id !== hubId && claim.previous_connection_id !== null) {
        await this.d.bus.publish(claim.previous_hub_id, { kind: 'close_agent', agent_id: agentId, connection_id: claim.previous_connection_id })
      }
      await this.d.processSeen(agentId, claim.previous_pm2_info as Pm2Seen | null, hello.pm2_info)
      const [row, restart] = await Promise.all([getAgent(sql, agentId), this.d.pendingRestart(agentId)])
      this.claims.set(agentId, { connectionId, peer })
      return { drained: row?.drained ?? false, quarantined: row?.quarantined ?? false, restart }
    } catch (err) {
      this.d.log.error('could not admit agent into the cluster', { agent_id: agentId, error: String(err) })
      return null
    }
  }

  /** Undoes an admit whose connection closed before it became the agent's: its row is released. */
  async leave(agentId: string, peer: Peer): Promise<void> {
    const claim = this.claims.get(agentId)
    if (!claim || claim.peer !== peer) return
    this.claims.delete(agentId)
    this.writtenState.delete(agentId)
    await releaseAgent(this.d.sql, this.d.hubId, agentId, claim.connectionId)
  }

  /**
   * Another hub says it took the agent from `connectionId`: close this hub's socket of it if it
   * is still that connection and the agent's row no longer names it. The message is a hint
   * (anyone who can log in to the database can NOTIFY); the row decides.
   */
  async closeMoved(agentId: string, connectionId: string): Promise<void> {
    const claim = this.claims.get(agentId)
    if (!claim || claim.connectionId !== connectionId) return
    const row = await getAgent(this.d.sql, agentId)
    if (!row || row.connection_id === connectionId || this.claims.get(agentId) !== claim) return
    this.claims.delete(agentId)
    this.d.log.info('agent moved to another hub', { agent_id: agentId })
    claim.peer.close(CLOSE.REPLACED, 'replaced by a connection on another hub')
  }

  /** A drain or resume was announced for an agent: carried out here as its row says (the message is a hint). */
  async applyDrainedFromRow(agentId: string): Promise<void> {
    if (!this.claims.has(agentId)) return
    const row = await getAgent(this.d.sql, agentId)
    if (row && row.hub_id === this.d.hubId) this.applyDrained(agentId, row.drained)
  }

  /** Drain or resume recorded by any hub, carried out on the agent's socket here. */
  applyDrained(agentId: string, drained: boolean): void {
    if (!this.claims.has(agentId)) return
    const rec = this.d.fleet.get(agentId)
    if (rec && (rec.drained !== drained || (!drained && rec.quarantined))) {
      if (drained) this.d.fleet.drain(agentId)
      else this.d.resumeAgent(agentId)
    }
  }

  /** Catches up from rows: stale claims released, drained flags and pending restarts applied. */
  async reconcile(): Promise<void> {
    for (const [agentId, claim] of this.claims) {
      if (this.d.fleet.get(agentId)?.peer !== claim.peer) this.markDirty(agentId)
    }
    const rows = await heldAgentState(this.d.sql, this.d.hubId)
    for (const row of rows) {
      const claim = this.claims.get(row.agent_id)
      if (!claim || claim.connectionId !== row.connection_id) continue
      this.applyDrained(row.agent_id, row.drained)
      if (row.restart_id) await this.d.deliverRestart(row.restart_id)
    }
  }

  private markDirty(agentId: string): void {
    if (!this.claims.has(agentId)) return
    this.dirty.add(agentId)
    if (this.flushing) {
      this.flushAgain = true
      return
    }
    this.flushing = new Promise<void>((resolve) => queueMicrotask(resolve)).then(() => this.flush())
  }

  /** Writes the agents changed since the last flush; one flush at a time, the next picks up the rest. */
  private async flush(): Promise<void> {
    do {
      this.flushAgain = false
      const agents = [...this.dirty]
      this.dirty.clear()
      await Promise.all(agents.map((agentId) => this.write(agentId).catch((err) => {
        this.d.log.warn('could not write agent to the cluster', { agent_id: agentId, error: String(err) })
      })))
    } while (this.flushAgain || this.dirty.size > 0)
    this.flushing = null
  }

  private async write(agentId: string): Promise<void> {
    const claim = this.claims.get(agentId)
    const rec = this.d.fleet.get(agentId)
    if (!claim || !rec) return
    const state = { pm2_info: rec.pm2_info, stats: rec.stats }
    const stateKey = JSON.stringify(state)
    if (rec.peer === claim.peer && stateKey !== this.writtenState.get(agentId)) {
      this.writtenState.set(agentId, stateKey)
      await saveAgentState(this.d.sql, this.d.hubId, agentId, claim.connectionId, state).catch((err) => {
        this.writtenState.delete(agentId)
        throw err
      })
    }
    if (rec.peer !== claim.peer && this.claims.get(agentId) === claim) {
      this.claims.delete(agentId)
      this.writtenState.delete(agentId)
      await releaseAgent(this.d.sql, this.d.hubId, agentId, claim.connectionId)
    }
  }

  /** The lease may be gone: other hubs may act for these agents, so this one closes their sockets. */
  private letGoOfAll(reason: string): void {
    const held = [...this.claims]
    this.claims.clear()
    for (const [, claim] of held) claim.peer.close(CLOSE.TRY_AGAIN_LATER, reason)
  }

  /** Resolves once every change so far is written. */
  async settled(): Promise<void> {
    while (this.flushing) await this.flushing
  }

  close(): void {
    for (const off of this.unsubscribe) off()
  }
}
