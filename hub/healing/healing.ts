/**
 * Healing, carried out. The decisions are the pure policy's (healing-policy.ts); this owner
 * feeds it the fleet's events from the change feed (identifies, stats, restart states, rollouts)
 * and does what it decides: restarts through the fleet, quarantine as the fleet's drain and
 * flag, alerts to the webhook (queued, never waited for), and a `healing` change for every
 * action recorded or changed. The overdue-task backstop reaches it through `taskOverdue()`.
 */
import { SECOND, type Clock } from '../../shared/time.ts'
import type { Logger } from '../../shared/log.ts'
import type { AlertSender } from '../alerts/alerts.ts'
import type { Change, ChangeFeed } from '../events/changes.ts'
import type { AgentRecord, Fleet } from '../agents/fleet.ts'
import { HealingPolicy, type SavedHealing, type HealingAction, type HealingDecision, type HealingOutput, type HealingView } from './healing-policy.ts'
import type { HealingSettings } from './healing-settings.ts'
import type { RolloutRecord } from '../rollouts/rollout-store.ts'
import { isSameWatch, type SavedWatch } from './healing-watch.ts'
import { isPending } from '../agents/restart.ts'

export interface HealingOptions {
  clock: Clock
  log: Logger
  newId: () => string
  changes: ChangeFeed
  settings?: Partial<HealingSettings>
  /** Where alerts go; null: they are only logged. */
  alerts: AlertSender | null
  /**
   * False in cluster mode: the fleet-wide decider and the rows decide (hub/cluster/healing*.ts),
   * so this hub's healing watches nothing and keeps only its settings and paused flag.
   */
  watchFleet?: boolean
  /** Told after pause() and resume(), which publish no change (a single hub saves the flag). */
  pausedChanged?: () => void
  /** Told when what `savedWatch(agentId)` gives changed (a single hub saves it). */
  watchChanged?: (agentId: string) => void
  /**
   * How long the fleet keeps an offline agent (default a day): an agent restored from a save that
   * the fleet does not know is watched that long for its return (its baseline and crashes), no longer.
   */
  offlineTtlMs?: number
}

export class Healing {
  private readonly policy: HealingPolicy
  private readonly unsubscribe: () => void
  /** Agents the fleet holds out of dispatch for us: a restart that waits for the budget. */
  private readonly held = new Set<string>()
  private readonly runningRollouts = new Set<string>()
  private tickTimer: ReturnType<typeof setTimeout> | null = null
  /** Agents restored from a save that have not come back since, and until when they are watched. */
  private readonly dormant = new Map<string, number>()
  private dormantTimer: ReturnType<typeof setTimeout> | null = null

  constructor(
    private readonly fleet: Fleet,
    private readonly rollouts: { peek(rolloutId: string): Pick<RolloutRecord, 'state'> | undefined },
    private readonly opts: HealingOptions,
  ) {
    this.policy = new HealingPolicy({
      clock: opts.clock, newId: opts.newId, settings: opts.settings, restartPending: (agentId) => isPending(fleet.get(agentId)?.restart ?? null),
    })
    if (opts.watchFleet === false) {
      this.unsubscribe = () => {}
      return
    }
    const unsubscribeAgents = opts.changes.on('agent', (change) => this.agentChanged(change))
    const unsubscribeRollouts = opts.changes.on('rollout', (change) => this.rolloutChanged(change.rollout_id))
    this.unsubscribe = () => {
      unsubscribeAgents()
      unsubscribeRollouts()
    }
  }

  view(): HealingView {
    return this.policy.view()
  }

  get settings(): HealingSettings {
    return this.policy.settings
  }

  /** The `HealingAction` a `healing` change names, while the history holds it. */
  action(actionId: string): HealingAction | undefined {
    return this.policy.action(actionId)
  }

  /** What a single hub saves (hub/state/); `restore` takes it back at start. */
  saved(): SavedHealing {
    return this.policy.saved()
  }

  /** What a single hub saves of the agent's last process and crash window; null: nothing. */
  savedWatch(agentId: string): SavedWatch | null {
    const watch = this.policy.savedWatch(agentId)
    return watch && { ...watch, keep_until: this.dormant.get(agentId) ?? null }
  }

  restore(saved: SavedHealing): void {
    const now = this.opts.clock.now()
    const agents: SavedWatch[] = []
    for (const watch of saved.agents ?? []) {
      // One the fleet restored is forgotten with it; any other, if it is not back in time.
      if (!this.fleet.get(watch.agent_id)) {
        const keepUntil = watch.keep_until ?? now + (this.opts.offlineTtlMs ?? 86_400 * SECOND)
        if (keepUntil <= now) continue
        this.dormant.set(watch.agent_id, keepUntil)
      }
      agents.push(watch)
    }
    this.armDormant()
    // Restored first (fleet-saver.ts), the fleet says where each healing restart in flight is now;
    // one it does not hold any more was lost with the previous hub.
    for (const action of this.policy.restore({ ...saved, agents })) {
      const restart = this.fleet.get(action.agent_id)?.restart
      const held = restart?.restart_id === action.restart_id ? restart : null
      this.carryOut(this.policy.restartChanged(action.restart_id!, held?.state ?? 'failed', held ? held.error : 'lost with the previous hub'))
    }
    this.carryOut(this.policy.tick())
  }

  /** No new healing action starts until resume(); restarts already commanded finish. */
  pause(): HealingView {
    this.carryOut(this.policy.pause())
    this.opts.pausedChanged?.()
    this.opts.log.info('healing paused')
    return this.view()
  }

  resume(): HealingView {
    this.opts.log.info('healing resumed')
    this.carryOut(this.policy.resume())
    this.opts.pausedChanged?.()
    return this.view()
  }

  /** `POST .../resume`: the agent takes tasks again, and its quarantine, if any, is lifted. */
  resumeAgent(agentId: string): AgentRecord | undefined {
    const rec = this.fleet.resume(agentId)
    if (rec) this.carryOut(this.policy.agentResumed(agentId))
    if (rec) this.opts.watchChanged?.(agentId)
    return rec
  }

  /**
   * The hub gave up on a task of the agent (Durability's backstop): its force restart, reason
   * `task_overdue`, is a healing restart within the budget; until the budget lets it start the
   * agent gets no new task.
   */
  taskOverdue(agentId: string, detail: string): void {
    this.opts.log.warn('agent did not report its task in time', { agent_id: agentId, detail })
    this.carryOut(this.policy.taskOverdue(agentId, detail))
    if (this.policy.isWaitingForRestart(agentId) && !this.held.has(agentId)) {
      this.held.add(agentId)
      this.fleet.holdForRestart(agentId, true)
    }
  }

  private agentChanged(change: Extract<Change, { type: 'agent' }>): void {
    const agentId = change.agent_id
    const rec = this.fleet.get(agentId)
    if (!rec) {
      // The fleet forgot it: so does healing.
      this.held.delete(agentId)
      this.dormant.delete(agentId)
      this.opts.watchChanged?.(agentId)
      return this.carryOut(this.policy.forgetAgent(agentId))
    }
    // Back since the hub restart: the fleet keeps it now, and healing as long as the fleet does.
    if (this.dormant.delete(agentId)) this.opts.watchChanged?.(agentId)
    if (change.restart_id !== undefined && rec.restart?.restart_id === change.restart_id) {
      this.carryOut(this.policy.restartChanged(change.restart_id, rec.restart.state, rec.restart.error))
      // Any restart over (a healing one's release is restartChanged's): what waited for it may start.
      if (!isPending(rec.restart)) this.carryOut(this.policy.tick())
    }
    if (change.identified) {
      const before = this.opts.watchChanged ? this.policy.savedWatch(agentId) : null
      this.carryOut(this.policy.agentIdentified(agentId, {
        supervised: rec.supervised,
        pm2: rec.pm2_info,
        restartCommanded: change.identified.restart_pending,
      }))
      if (this.opts.watchChanged && !isSameWatch(before, this.policy.savedWatch(agentId))) this.opts.watchChanged(agentId)
    }
    if (change.stats && rec.stats) this.carryOut(this.policy.statsReported(agentId, rec.stats.rss_bytes))
  }

  /** No healing restart starts while any rollout runs. */
  private rolloutChanged(rolloutId: string): void {
    const wasRunning = this.runningRollouts.size > 0
    if (this.rollouts.peek(rolloutId)?.state === 'running') this.runningRollouts.add(rolloutId)
    else this.runningRollouts.delete(rolloutId)
    const running = this.runningRollouts.size > 0
    if (running !== wasRunning) this.carryOut(this.policy.setRolloutRunning(running))
  }

  /** Does what one policy call asks, then what that in turn asks, and re-arms the tick. */
  private carryOut(out: HealingOutput): void {
    for (const action of out.actions) this.opts.changes.publish({ type: 'healing', action_id: action.action_id })
    for (const alert of out.alerts) {
      this.opts.log.warn('healing alert', { type: alert.type, agent_id: alert.agent_id, rule: alert.rule, detail: alert.detail })
      this.opts.alerts?.send(alert)
    }
    for (const decision of out.decisions) this.decide(decision)
    this.releaseHolds()
    this.armTick()
  }

  private decide(d: HealingDecision): void {
    const log = this.opts.log
    switch (d.action) {
      case 'restart': {
        const result = this.fleet.commandRestart(d.agent_id, { reason: d.reason, mode: d.mode, deadline_s: null })
        if (!result.ok) {
          log.warn('healing restart not commanded', { agent_id: d.agent_id, rule: d.rule, action_id: d.action_id, error: result.error })
          return this.carryOut(this.policy.restartNotCommanded(d.action_id, result.error))
        }
        log.info('healing restart', { agent_id: d.agent_id, rule: d.rule, action_id: d.action_id, restart_id: result.restart.restart_id, mode: d.mode })
        return this.carryOut(this.policy.restartCommanded(d.action_id, result.restart.restart_id, result.restart.state))
      }
      case 'quarantine':
        log.warn('agent quarantined', { agent_id: d.agent_id, rule: d.rule, action_id: d.action_id })
        this.fleet.quarantine(d.agent_id)
        return
      case 'escalate':
        log.warn('healing escalated', { agent_id: d.agent_id, rule: d.rule, action_id: d.action_id })
    }
  }

  private releaseHolds(): void {
    for (const agentId of this.held) {
      if (this.policy.isWaitingForRestart(agentId)) continue
      this.held.delete(agentId)
      this.fleet.holdForRestart(agentId, false)
    }
  }

  /** A waiting restart whose cooldown or window runs out starts then, with nothing else happening. */
  private armTick(): void {
    if (this.tickTimer) clearTimeout(this.tickTimer)
    this.tickTimer = null
    const due = this.policy.nextDueAt()
    if (due === null) return
    this.tickTimer = setTimeout(() => {
      this.tickTimer = null
      this.carryOut(this.policy.tick())
    }, Math.max(0, due - this.opts.clock.now()))
  }

  /** Forgets, when their time is up, the restored agents that did not come back. */
  private armDormant(): void {
    if (this.dormantTimer) clearTimeout(this.dormantTimer)
    this.dormantTimer = null
    let due: number | null = null
    for (const until of this.dormant.values()) if (due === null || until < due) due = until
    if (due === null) return
    // A timer's longest delay is about 24.8 days; a longer wait is armed again when it fires.
    const delay = Math.min(Math.max(0, due - this.opts.clock.now()), 2 ** 31 - 1)
    this.dormantTimer = setTimeout(() => {
      this.dormantTimer = null
      const now = this.opts.clock.now()
      for (const [agentId, until] of this.dormant) {
        if (until > now) continue
        this.dormant.delete(agentId)
        if (!this.fleet.get(agentId)) this.carryOut(this.policy.forgetAgent(agentId))
        this.opts.watchChanged?.(agentId)
      }
      this.armDormant()
    }, delay)
  }

  close(): void {
    this.unsubscribe()
    if (this.dormantTimer) clearTimeout(this.dormantTimer)
    this.dormantTimer = null
    if (this.tickTimer) clearTimeout(this.tickTimer)
    this.tickTimer = null
    this.opts.alerts?.close()
  }
}
