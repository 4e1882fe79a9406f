/**
 * The fleet's alerts on one hub: every `intervalMs` the agents of this hub's fleet are checked
 * (offline long enough, back again), and a rollout change to `failed` alerts at once.
 */
import type { Logger } from '../../shared/log.ts'
import type { Clock } from '../../shared/time.ts'
import type { AlertSender } from './alerts.ts'
import type { ChangeFeed } from '../events/changes.ts'
import type { Fleet } from '../agents/fleet.ts'
import { isPending } from '../agents/restart.ts'
import type { RolloutEngine } from '../rollouts/engine.ts'
import { FleetAlerts, type AgentPresence, type AlertEpisodes } from './fleet-alerts.ts'

export interface LocalFleetAlertsOptions {
  fleet: Fleet
  rollouts: Pick<RolloutEngine, 'view'>
  changes: ChangeFeed
  alerts: AlertSender
  /** Which alerts went out (createMemoryAlertEpisodes, saved with the fleet state). */
  episodes: AlertEpisodes
  offlineMs: number
  clock: Clock
  log: Logger
  /** How often the agents are checked; default 1 s. */
  intervalMs?: number
}

export function startLocalFleetAlerts(o: LocalFleetAlertsOptions): { stop(): void } {
  const rule = new FleetAlerts({ episodes: o.episodes, alerts: o.alerts, offlineMs: o.offlineMs, log: o.log })
  const fail = (err: unknown) => o.log.error('fleet alerts check failed', { error: String(err) })
  const check = () => {
    const agents: AgentPresence[] = o.fleet.list().map((rec) => ({
      agent_id: rec.agent_id, connected: rec.peer !== null, restart_pending: isPending(rec.restart),
      offline_since: rec.peer !== null ? null : (rec.last_seen ?? rec.connected_at),
    }))
    void rule.checkAgents(agents, o.clock.now()).catch(fail)
  }
  const timer = setInterval(check, o.intervalMs ?? 1000)
  const unsubscribe = o.changes.subscribe((change) => {
    if (change.type !== 'rollout') return
    void o.rollouts.view(change.rollout_id).then(async (r) => {
      if (r?.state !== 'failed') return
      // The agent that did not come back, or could not be commanded.
      const stuck = r.agents.find((a) => a.state === 'failed')
      await rule.rolloutFailed({ rollout_id: r.rollout_id, agent_id: stuck?.agent_id ?? null, error: r.error }, o.clock.now())
    }).catch(fail)
  })
  return {
    stop() {
      clearInterval(timer)
      unsubscribe()
    },
  }
}
