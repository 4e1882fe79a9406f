/**
 * The rows behind healing's fleet-wide decider: its lease in `healing_state` and what its budget
 * is counted from. Nothing of the budget lives in a hub's memory: restarts in flight, each
 * agent's healing restarts within the window, its cooldown and its last escalation are all read
 * from `healing_actions` and `restarts` on the database's clock, so a hub that takes the lease
 * over after another died counts exactly what the old decider would have.
 */
import type { Queryable } from './connect.ts'
import type { HealingAction } from '../healing/healing-history.ts'
import type { RequestRule } from './healing.ts'

const PENDING = `('commanded', 'deferred', 'restarting')`

/**
 * Takes or renews the decider lease for `hubId` (while its hub lease holds), locking the row
 * for the rest of the transaction, so decider steps never overlap, even across a handover.
 * Null: another hub holds it.
 */
export async function takeDeciderLease(tx: Queryable, hubId: string, leaseMs: number): Promise<{ paused: boolean; previous: string | null } | null> {
  const [row] = await tx<{ paused: boolean; previous: string | null }[]>`
    UPDATE healing_state s SET decider_hub_id = ${hubId}, decider_lease_until = now() + ${leaseMs}::float8 * interval '1 millisecond'
    FROM (SELECT decider_hub_id FROM healing_state) prev
    WHERE (s.decider_hub_id = ${hubId} OR s.decider_hub_id IS NULL OR s.decider_lease_until <= now())
      AND EXISTS (SELECT 1 FROM hubs WHERE hub_id = ${hubId} AND lease_until > now())
    RETURNING s.paused, prev.decider_hub_id AS previous`
  return row ?? null
}

/** A clean stop: another hub may take the lease at its next sweep. */
export async function releaseDeciderLease(sql: Queryable, hubId: string): Promise<void> {
  await sql`UPDATE healing_state SET decider_hub_id = NULL, decider_lease_until = NULL WHERE decider_hub_id = ${hubId}`
}

export async function deciderHub(sql: Queryable): Promise<string | null> {
  const [row] = await sql<{ hub_id: string | null }[]>`SELECT decider_hub_id AS hub_id FROM healing_state WHERE decider_lease_until > now()`
  return row?.hub_id ?? null
}

/** Healing restart actions move on with their restarts (a failed one says why). Returns those that moved. */
export async function followRestarts(tx: Queryable): Promise<HealingAction[]> {
  return tx<HealingAction[]>`UPDATE healing_actions ha SET state = r.state, updated_at = r.updated_at,
      detail = CASE WHEN r.state = 'failed' THEN ha.detail || '; restart failed' || coalesce(': ' || r.error, '') ELSE ha.detail END
    FROM restarts r
    WHERE ha.action = 'restart' AND ha.state IN ${tx.unsafe(PENDING)} AND r.restart_id = ha.restart_id AND r.state <> ha.state
    RETURNING ha.action_id, ha.agent_id, ha.rule, ha.action, ha.detail, ha.restart_id, ha.state,
      epoch_ms(ha.at) AS at, epoch_ms(ha.updated_at) AS updated_at`
}

export interface HealingRequestRow {
  agent_id: string
  rule: RequestRule
  detail: string
  live: boolean
  supervised: boolean
  quarantined: boolean
  /** A restart of any kind is pending for the agent (it will come back a new process). */
  restart_pending: boolean
  /** Its healing restarts commanded within the window. */
  recent: number
  /** Its last healing restart ended within the cooldown. */
  cooling: boolean
  /** It was escalated within the window. */
  escalated: boolean
}

export interface BudgetSnapshot {
  in_flight: number
  rollout_running: boolean
  /** Overdue restarts first (they are never dropped), then the oldest. */
  requests: HealingRequestRow[]
}

export async function budgetSnapshot(tx: Queryable, s: { windowS: number; cooldownS: number }): Promise<BudgetSnapshot> {
  const window = tx`now() - ${s.windowS}::float8 * interval '1 second'`
  const [fleet] = await tx<{ in_flight: number; rollout_running: boolean }[]>`SELECT
      (SELECT count(*)::int FROM healing_actions ha JOIN restarts r ON r.restart_id = ha.restart_id
        WHERE ha.action = 'restart' AND ha.state IN ${tx.unsafe(PENDING)} AND r.state IN ${tx.unsafe(PENDING)}) AS in_flight,
      EXISTS (SELECT 1 FROM rollouts WHERE state = 'running') AS rollout_running`
  const requests = await tx<HealingRequestRow[]>`SELECT q.agent_id, q.rule, q.detail,
      coalesce(a.connected AND h.lease_until > now(), false) AS live, coalesce(a.supervised, false) AS supervised,
      coalesce(a.quarantined, false) AS quarantined,
      EXISTS (SELECT 1 FROM restarts r WHERE r.agent_id = q.agent_id AND r.state IN ${tx.unsafe(PENDING)}) AS restart_pending,
      (SELECT count(*)::int FROM healing_actions x WHERE x.agent_id = q.agent_id AND x.action = 'restart' AND x.at > ${window}) AS recent,
      coalesce((SELECT max(r.updated_at) FROM healing_actions x JOIN restarts r ON r.restart_id = x.restart_id
          WHERE x.agent_id = q.agent_id AND x.action = 'restart' AND r.state IN ('completed', 'failed'))
        > now() - ${s.cooldownS}::float8 * interval '1 second', false) AS cooling,
      EXISTS (SELECT 1 FROM healing_actions x WHERE x.agent_id = q.agent_id AND x.action = 'escalate' AND x.at > ${window}) AS escalated
    FROM healing_requests q LEFT JOIN agents a ON a.agent_id = q.agent_id LEFT JOIN hubs h ON h.hub_id = a.hub_id
    ORDER BY q.rule = 'task_overdue' DESC, q.since, q.agent_id`
  return { ...fleet, requests }
}

export async function deleteHealingRequest(tx: Queryable, agentId: string): Promise<void> {
  await tx`DELETE FROM healing_requests WHERE agent_id = ${agentId}`
}

/** Crashes past the window count for nothing. */
export async function pruneCrashes(tx: Queryable, windowS: number): Promise<void> {
  await tx`DELETE FROM agent_crashes WHERE at <= now() - ${windowS}::float8 * interval '1 second'`
}
