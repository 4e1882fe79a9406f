/**
 * Healing's part on each hub, the same on both stores: what this hub sees of the agents it
 * holds, filed with the HealingStore (healing-store.ts) for the one decider (healing-decider.ts).
 * - an agent identifying here as a new process is checked against the last process the store
 *   saw: its crashes are counted under the agent's lock and judged by HealingPolicy's crash-loop
 *   rule (healing-rules.ts) in the same operation, so a quarantine is one for the fleet;
 * - memory above the limit in two stats reports in a row (the same rule), and an overdue task,
 *   of an agent held here, are filed as requests for the decider, which judges the budget; an
 *   agent whose overdue restart waits gets no task meanwhile.
 * Its owner is healing-runtime.ts, the same in both modes, which also answers the admin API.
 */
import type { Logger } from '../../shared/log.ts'
import type { AlertSender } from '../alerts/alerts.ts'
import type { ChangeFeed } from '../events/changes.ts'
import type { Fleet } from '../agents/fleet.ts'
import { restartsSeen, type Pm2Seen } from './healing-watch.ts'
import type { HealingSettings } from './healing-settings.ts'
import { healingDetail, isCrashLoop, memoryAboveAfter } from './healing-rules.ts'
import type { HealingStore, RequestRule } from './healing-store.ts'

export interface HubHealingDeps {
  store: HealingStore
  /** Asks the decider for a step (a cluster: every hub, by NOTIFY; one hub: its own decider). */
  nudge(): void
  log: Logger
  newId: () => string
  changes: ChangeFeed
  fleet: Fleet
  /** Whether this hub holds the agent's socket (a cluster: ClusterPresence.holds; one hub: it is connected). */
  holds(agentId: string): boolean
  settings: HealingSettings
  alerts: AlertSender | null
}

export class HubHealing {
  private readonly unsubscribe: Array<() => void>
  /** Stats reports in a row above the memory limit, per agent held here, capped at 2. */
  private readonly memoryAbove = new Map<string, number>()
  /** Agents held out of dispatch here while their overdue restart waits or runs. */
  private readonly held = new Set<string>()
  /** Agents whose task_overdue request is being written (syncHolds must not let go of them). */
  private readonly filing = new Set<string>()
  /**
   * Each agent's request writes, in the order its reports came: a drop (memory back under the
   * limit) and the next filing (above it again) on two pooled connections could otherwise land
   * the other way round, and the drop would delete the new request. Entries go when idle.
   */
  private readonly writes = new Map<string, Promise<void>>()

  constructor(private readonly d: HubHealingDeps) {
    this.unsubscribe = [
      d.changes.on('agent', (change) => {
        if (change.stats) this.statsReported(change.agent_id)
      }),
    ]
  }

  /**
   * The agent is identifying here: `before` is the process the store last saw of it, `after` the
   * one identifying (a cluster: ClusterSeam.admit, after the claim; one hub: at its identify).
   * Never refuses the agent: a failure is logged.
   */
  async identified(agentId: string, before: Pm2Seen | null, after: Pm2Seen | null): Promise<void> {
    const restarts = restartsSeen(before, after)
    if (restarts === 0) return
    // A new process: its memory reports start over, and a waiting overdue restart ends (it restarted anyway).
    this.memoryAbove.delete(agentId)
    if (!this.filing.has(agentId)) this.hold(agentId, false)
    const s = this.d.settings
    try {
      const action = await this.d.store.crashesSeen(agentId, restarts, this.d.newId(),
        (crashes, paused) => isCrashLoop(s, crashes, paused), (crashes) => healingDetail.crashLoop(s, crashes))
      if (!action) return
      this.d.log.warn('agent quarantined', { agent_id: agentId, rule: action.rule, action_id: action.action_id })
      this.d.alerts?.send({ type: 'agent_quarantined', agent_id: agentId, rule: action.rule, detail: action.detail, at: action.updated_at })
      this.d.changes.publish({ type: 'healing', action_id: action.action_id })
    } catch (err) {
      this.d.log.warn('could not check the agent for a crash loop', { agent_id: agentId, error: String(err) })
    }
  }

  /** The hub gave up on a task of an agent held here: its force restart waits for the decider. */
  taskOverdue(agentId: string, detail: string): void {
    this.d.log.warn('agent did not report its task in time', { agent_id: agentId, detail })
    if (!this.d.fleet.get(agentId)?.supervised) return // pm2 cannot restart it: nothing to wait for
    this.hold(agentId, true)
    this.filing.add(agentId)
    void this.file(agentId, 'task_overdue', detail).finally(() => this.filing.delete(agentId))
  }

  /**
   * Holds out of dispatch the agents held here whose overdue restart waits or runs, and lets go
   * of the others (each sweep). Not one whose request was being filed while the rows were read:
   * the read may have missed it, and the agent, free, would claim its overdue task again.
   */
  async syncHolds(): Promise<void> {
    const filingBefore = new Set(this.filing)
    const heldBefore = new Set(this.held)
    const waiting = await this.d.store.waitingOverdue()
    for (const agentId of this.held) {
      const mayHaveBeenMissed = !heldBefore.has(agentId) || filingBefore.has(agentId) || this.filing.has(agentId)
      if (!waiting.has(agentId) && !mayHaveBeenMissed) this.hold(agentId, false)
    }
    for (const agentId of waiting) if (this.d.holds(agentId)) this.hold(agentId, true)
    for (const agentId of this.memoryAbove.keys()) if (!this.d.holds(agentId)) this.memoryAbove.delete(agentId)
  }

  close(): void {
    for (const off of this.unsubscribe) off()
  }

  private hold(agentId: string, held: boolean): void {
    if (held === this.held.has(agentId)) return
    if (held) this.held.add(agentId)
    else this.held.delete(agentId)
    this.d.fleet.holdForRestart(agentId, held)
  }

  private statsReported(agentId: string): void {
    const s = this.d.settings
    const rss = this.d.fleet.get(agentId)?.stats?.rss_bytes
    if (s.maxMemoryMb === null || rss === undefined || !this.d.holds(agentId)) return
    const before = this.memoryAbove.get(agentId) ?? 0
    const above = memoryAboveAfter(s, before, rss)
    if (above === 0) this.memoryAbove.delete(agentId)
    else this.memoryAbove.set(agentId, above)
    if (above === 2) {
      void this.file(agentId, 'memory', healingDetail.memory(s, rss))
    } else if (before === 2) {
      void this.inOrder(agentId, () => this.d.store.dropMemoryRequest(agentId))
        .catch((err) => this.d.log.warn('could not drop a healing request', { agent_id: agentId, error: String(err) }))
    }
  }

  private async file(agentId: string, rule: RequestRule, detail: string): Promise<void> {
    try {
      if (await this.inOrder(agentId, () => this.d.store.fileRequest(agentId, rule, detail))) this.nudge()
    } catch (err) {
      this.d.log.warn('could not file a healing request', { agent_id: agentId, rule, error: String(err) })
    }
  }

  /** Runs `write` after the agent's earlier request writes have settled. */
  private inOrder<T>(agentId: string, write: () => Promise<T>): Promise<T> {
    const result = (this.writes.get(agentId) ?? Promise.resolve()).then(write)
    const settled = result.then(() => undefined, () => undefined)
    this.writes.set(agentId, settled)
    void settled.then(() => {
      if (this.writes.get(agentId) === settled) this.writes.delete(agentId)
    })
    return result
  }

  private nudge(): void {
    this.d.nudge()
  }
}
