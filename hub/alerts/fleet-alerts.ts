/**
 * The fleet's alerts, the rule written once for both modes: `agent_offline` when an agent has
 * been offline for AGENTCOM_ALERT_OFFLINE_S with no restart of it in progress, once per
 * episode; `agent_recovered` once when that agent is back; `rollout_failed` once per rollout.
 * "Once" is the episodes store's: in memory on one hub, rows in a cluster's database, where a
 * claim succeeds for one hub only. Who observes the fleet, and how often, is the caller's
 * (local-fleet-alerts.ts on one hub, the healing decider's hub in a cluster).
 */
import type { Logger } from '../../shared/log.ts'
import type { AlertSender } from './alerts.ts'

/** One agent as the rule needs it. */
export interface AgentPresence {
  agent_id: string
  connected: boolean
  restart_pending: boolean
  /** Since when it has been offline (epoch ms; its last sign of life); null when connected. */
  offline_since: number | null
}

export interface FailedRollout {
  rollout_id: string
  /** The agent that did not come back, when known. */
  agent_id: string | null
  error: string | null
}

/** What "once" rests on: each claim is true for one caller only. */
export interface AlertEpisodes {
  /** Agents whose offline alert went out and whose recovery has not been claimed. */
  alerted(): Promise<ReadonlySet<string>>
  claimOffline(agentId: string): Promise<boolean>
  /** Ends the agent's episode: true for the one caller that ended it. */
  claimRecovered(agentId: string): Promise<boolean>
  claimRolloutFailed(rolloutId: string): Promise<boolean>
}

export interface FleetAlertsDeps {
  episodes: AlertEpisodes
  alerts: AlertSender
  /** AGENTCOM_ALERT_OFFLINE_S in ms (default 300 s). */
  offlineMs: number
  log: Logger
}

export class FleetAlerts {
  constructor(private readonly d: FleetAlertsDeps) {}

  /** Looks at every agent the hub knows, at `now` (the clock the offline times were taken on). */
  async checkAgents(agents: readonly AgentPresence[], now: number): Promise<void> {
    const alerted = await this.d.episodes.alerted()
    const known = new Set<string>()
    for (const a of agents) {
      known.add(a.agent_id)
      if (a.connected) {
        if (alerted.has(a.agent_id) && await this.d.episodes.claimRecovered(a.agent_id)) {
          this.#send({ type: 'agent_recovered', agent_id: a.agent_id, detail: 'connected again', at: now })
        }
        continue
      }
      if (alerted.has(a.agent_id) || a.restart_pending || a.offline_since === null) continue
      const offlineMs = now - a.offline_since
      if (offlineMs < this.d.offlineMs) continue
      if (await this.d.episodes.claimOffline(a.agent_id)) {
        this.#send({ type: 'agent_offline', agent_id: a.agent_id, detail: `offline for ${Math.floor(offlineMs / 1000)} s`, at: now })
      }
    }
    // Forgotten while offline (AGENTCOM_OFFLINE_TTL_S): it never came back, the episode just ends.
    for (const agentId of alerted) if (!known.has(agentId)) await this.d.episodes.claimRecovered(agentId)
  }

  async rolloutFailed(r: FailedRollout, now: number): Promise<void> {
    if (!await this.d.episodes.claimRolloutFailed(r.rollout_id)) return
    this.#send({
      type: 'rollout_failed', rollout_id: r.rollout_id, agent_id: r.agent_id,
      detail: r.error ?? (r.agent_id ? `${r.agent_id} did not come back in time` : 'failed'), at: now,
    })
  }

  #send(alert: Parameters<AlertSender['send']>[0]): void {
    this.d.log.warn('fleet alert', { type: alert.type, agent_id: alert.agent_id })
    this.d.alerts.send(alert)
  }
}

/** One hub's episodes: the agents alerted offline are saved with its fleet state (hub/store/fleet-saver.ts). */
export interface MemoryAlertEpisodes extends AlertEpisodes {
  /** The agents whose offline alert went out and who have not been seen back. */
  offlineAlerted(): string[]
  isOfflineAlerted(agentId: string): boolean
  /** What a previous hub saved: each of them gets its `agent_recovered`, none a second `agent_offline`. */
  restore(offlineAlerted: readonly string[]): void
}

/**
 * Episodes in memory: one hub. Bounded by the agents it knows and the rollouts it keeps.
 * `changed` runs when an agent's place in the offline set changed (to save it); a failed rollout's alert follows a
 * change of the rollout, which a hub restart does not repeat, so those are not saved.
 */
export function createMemoryAlertEpisodes(maxRollouts = 1000, changed: (agentId: string) => void = () => {}): MemoryAlertEpisodes {
  const offline = new Set<string>()
  const rollouts = new Set<string>()
  const claim = (id: string, alerted: boolean): boolean => {
    if (offline.has(id) === alerted) return false
    if (alerted) offline.add(id)
    else offline.delete(id)
    changed(id)
    return true
  }
  return {
    offlineAlerted: () => [...offline],
    isOfflineAlerted: (id) => offline.has(id),
    restore: (ids) => {
      for (const id of ids) offline.add(id)
    },
    alerted: async () => new Set(offline),
    claimOffline: async (id) => claim(id, true),
    claimRecovered: async (id) => claim(id, false),
    claimRolloutFailed: async (id) => {
      if (rollouts.has(id)) return false
      rollouts.add(id)
      // A set kept in insertion order: the oldest rollout ids go first.
      if (rollouts.size > maxRollouts) rollouts.delete(rollouts.values().next().value as string)
      return true
    },
  }
}
