/**
 * The fleet's alerts in a cluster: the episodes as rows (a claim is an INSERT or DELETE that
 * one hub alone gets a row back from), and what the rule looks at, read from the rows with the
 * database's clock. Checked by the hub that holds the healing decider's lease, so one hub
 * sends each alert; the claims keep it once even while two hubs both believe they decide.
 */
import type { Logger } from '../../shared/log.ts'
import type { AlertSender } from './alerts.ts'
import type { Sql } from '../pg/connect.ts'
import { FleetAlerts, type AgentPresence, type AlertEpisodes, type FailedRollout } from './fleet-alerts.ts'

export interface ClusterFleetAlertsOptions {
  sql: Sql
  alerts: AlertSender
  offlineMs: number
  log: Logger
  /** Checks closer together than this are skipped (the sweep calls every second); default 5 s. */
  everyMs?: number
  now?: () => number
}

/** The check the decider's hub runs from its sweep: agents and failed rollouts, at most every `everyMs`. */
export function createClusterFleetAlerts(o: ClusterFleetAlertsOptions): { check(): Promise<void> } {
  const rule = new FleetAlerts({ episodes: createPgAlertEpisodes(o.sql), alerts: o.alerts, offlineMs: o.offlineMs, log: o.log })
  const now = o.now ?? (() => Date.now())
  let last = -Infinity
  return {
    async check() {
      if (now() - last < (o.everyMs ?? 5000)) return
      last = now()
      try {
        const presence = await readPresence(o.sql)
        await rule.checkAgents(presence.agents, presence.now)
        for (const failed of await readUnalertedFailures(o.sql)) await rule.rolloutFailed(failed, presence.now)
      } catch (err) {
        o.log.warn('fleet alerts check failed', { error: String(err) })
      }
    },
  }
}

export function createPgAlertEpisodes(sql: Sql): AlertEpisodes {
  return {
    async alerted() {
      const rows = await sql<{ agent_id: string }[]>`SELECT agent_id FROM alert_episodes`
      return new Set(rows.map((r) => r.agent_id))
    },
    async claimOffline(agentId) {
      const rows = await sql`INSERT INTO alert_episodes (agent_id) VALUES (${agentId}) ON CONFLICT DO NOTHING RETURNING agent_id`
      return rows.length === 1
    },
    async claimRecovered(agentId) {
      const rows = await sql`DELETE FROM alert_episodes WHERE agent_id = ${agentId} RETURNING agent_id`
      return rows.length === 1
    },
    async claimRolloutFailed(rolloutId) {
      const rows = await sql`UPDATE rollouts SET failure_alerted = true
        WHERE rollout_id = ${rolloutId} AND state = 'failed' AND NOT failure_alerted RETURNING rollout_id`
      return rows.length === 1
    },
  }
}

/** Every agent's presence as the admin API computes it (connected only under a live hub lease), and the database's now. */
export async function readPresence(sql: Sql): Promise<{ agents: AgentPresence[]; now: number }> {
  const rows = await sql<(AgentPresence & { now: number })[]>`
    SELECT a.agent_id, (a.connected AND coalesce(h.lease_until > now(), false)) AS connected,
      EXISTS (SELECT 1 FROM restarts r WHERE r.agent_id = a.agent_id AND r.state IN ('commanded', 'deferred', 'restarting')) AS restart_pending,
      epoch_ms(coalesce(a.last_seen, a.updated_at)) AS offline_since, epoch_ms(now()) AS now
    FROM agents a LEFT JOIN hubs h ON h.hub_id = a.hub_id`
  const now = rows[0]?.now ?? (await sql<{ now: number }[]>`SELECT epoch_ms(now()) AS now`)[0].now
  return { agents: rows.map(({ now: _, ...a }) => ({ ...a, offline_since: a.connected ? null : a.offline_since })), now }
}

/** Failed rollouts whose alert has not gone out, with the agent that did not come back. */
export async function readUnalertedFailures(sql: Sql): Promise<FailedRollout[]> {
  return await sql<FailedRollout[]>`
    SELECT r.rollout_id, r.error,
      (SELECT ra.agent_id FROM rollout_agents ra LEFT JOIN restarts rs ON rs.restart_id = ra.restart_id
        WHERE ra.rollout_id = r.rollout_id AND (ra.error IS NOT NULL OR rs.state = 'failed') ORDER BY ra.position LIMIT 1) AS agent_id
    FROM rollouts r WHERE r.state = 'failed' AND NOT r.failure_alerted`
}
