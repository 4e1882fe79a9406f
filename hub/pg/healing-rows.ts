/**
 * Healing's shared rows: the paused flag and the decider's lease (one row, `healing_state`), the
 * history of actions (`healing_actions`), the crashes the crash-loop rule counts
 * (`agent_crashes`) and the restarts waiting for the fleet-wide budget (`healing_requests`).
 * Every time is the database's. These count and record; the rules that judge the counts are
 * HealingPolicy's (hub/healing/healing-rules.ts), called by pg-healing-store.ts's callers.
 */
import type { Queryable } from './connect.ts'
import type { HealingAction } from '../healing/healing-history.ts'
import type { HealingRequest, RequestRule } from '../healing/healing-store.ts'
import type { AgentBudget } from '../healing/healing-rules.ts'

const PENDING = `('commanded', 'deferred', 'restarting')`

const ACTION_COLUMNS = `action_id, agent_id, rule, action, detail, restart_id, state,
  epoch_ms(at) AS at, epoch_ms(coalesce(updated_at, at)) AS updated_at`

export async function healingPaused(sql: Queryable): Promise<boolean> {
  const [row] = await sql<{ paused: boolean }[]>`SELECT paused FROM healing_state`
  return row?.paused ?? false
}

export async function setHealingPaused(sql: Queryable, paused: boolean): Promise<void> {
  await sql`UPDATE healing_state SET paused = ${paused}`
}

/**
 * Records a new action now (database time), taken by `hubId`. The moment of the insert, not of its
 * transaction's start (`now()`): the decider's transaction may wait on its lock while the restart
 * before finishes, and an action must not read as started before what it waited for ended.
 */
export async function insertHealingAction(
  sql: Queryable, hubId: string, a: Pick<HealingAction, 'action_id' | 'agent_id' | 'rule' | 'action' | 'detail' | 'restart_id' | 'state'>,
): Promise<HealingAction> {
  const [row] = await sql<HealingAction[]>`INSERT INTO healing_actions (action_id, agent_id, rule, action, detail, restart_id, state, at, updated_at, hub_id)
    VALUES (${a.action_id}, ${a.agent_id}, ${a.rule}, ${a.action}, ${a.detail}, ${a.restart_id}, ${a.state}, clock_timestamp(), clock_timestamp(), ${hubId})
    RETURNING ${sql.unsafe(ACTION_COLUMNS)}`
  return row
}

export async function getHealingAction(sql: Queryable, actionId: string): Promise<HealingAction | null> {
  const [row] = await sql<HealingAction[]>`SELECT ${sql.unsafe(ACTION_COLUMNS)} FROM healing_actions WHERE action_id = ${actionId}`
  return row ?? null
}

/** The newest `limit` actions, newest first. */
export async function listHealingActions(sql: Queryable, limit: number): Promise<HealingAction[]> {
  return sql<HealingAction[]>`SELECT ${sql.unsafe(ACTION_COLUMNS)} FROM healing_actions ORDER BY at DESC, action_id DESC LIMIT ${limit}`
}

/** Keeps the newest `keep` actions; returns how many went. */
export async function pruneHealingActions(sql: Queryable, keep: number): Promise<number> {
  const rows = await sql`DELETE FROM healing_actions WHERE action_id IN (
      SELECT action_id FROM healing_actions ORDER BY at DESC OFFSET ${keep}) RETURNING action_id`
  return rows.length
}

/**
 * The agent identified as a new process, `restarts` restarts after the last one any hub saw.
 * Under the agent's row lock (in the caller's transaction), so hubs seeing the same agent take
 * turns: a waiting healing request is dropped (it restarted anyway); unless a restart was
 * commanded or the agent is quarantined, the restarts are counted, keeping the newest
 * `crashLimit` within the window. Null: not counted; else the count and the paused flag.
 */
export async function countCrashes(
  tx: Queryable, agentId: string, restarts: number, rule: { crashLimit: number; windowS: number },
): Promise<{ crashes: number; paused: boolean } | null> {
  await tx`DELETE FROM healing_requests WHERE agent_id = ${agentId}`
  const [agent] = await tx<{ quarantined: boolean; commanded: boolean; paused: boolean }[]>`
    SELECT a.quarantined, EXISTS (SELECT 1 FROM restarts r WHERE r.agent_id = a.agent_id
        AND r.state IN ${tx.unsafe(PENDING)}) AS commanded,
      (SELECT paused FROM healing_state) AS paused
    FROM agents a WHERE a.agent_id = ${agentId} FOR UPDATE OF a`
  if (!agent || agent.quarantined || agent.commanded) return null
  const window = tx`now() - ${rule.windowS}::float8 * interval '1 second'`
  await tx`INSERT INTO agent_crashes (agent_id) SELECT ${agentId} FROM generate_series(1, ${Math.min(restarts, rule.crashLimit)})`
  // More than the limit never changes a decision: keep the newest `crashLimit` within the window.
  await tx`DELETE FROM agent_crashes c WHERE c.agent_id = ${agentId} AND (c.at <= ${window} OR c.ctid NOT IN (
    SELECT ctid FROM agent_crashes WHERE agent_id = ${agentId} ORDER BY at DESC LIMIT ${rule.crashLimit}))`
  const [{ crashes }] = await tx<{ crashes: number }[]>`SELECT count(*)::int AS crashes FROM agent_crashes WHERE agent_id = ${agentId}`
  return { crashes, paused: agent.paused }
}

/** The crash loop judged: drained and flagged in its row, which every hub reads; its crash count starts over. */
export async function quarantineAgent(tx: Queryable, agentId: string): Promise<void> {
  await tx`UPDATE agents SET quarantined = true, drained = true, updated_at = now() WHERE agent_id = ${agentId}`
  await tx`DELETE FROM agent_crashes WHERE agent_id = ${agentId}`
}

/** An operator resumed the agent: its quarantine action is `lifted` and its crash count starts over. */
export async function liftQuarantine(tx: Queryable, agentId: string): Promise<string[]> {
  const rows = await tx<{ action_id: string }[]>`UPDATE healing_actions SET state = 'lifted', updated_at = now()
    WHERE agent_id = ${agentId} AND action = 'quarantine' AND state = 'quarantined' RETURNING action_id`
  if (rows.length > 0) await tx`DELETE FROM agent_crashes WHERE agent_id = ${agentId}`
  return rows.map((r) => r.action_id)
}

/**
 * Asks the decider for a healing restart of the agent. One request per agent: an overdue task's
 * force restart replaces a memory one (it covers it), never the other way. True when the
 * request is new or replaced one (the decider should look).
 */
export async function fileHealingRequest(sql: Queryable, hubId: string, agentId: string, rule: RequestRule, detail: string): Promise<boolean> {
  const rows = await sql`INSERT INTO healing_requests (agent_id, rule, detail, hub_id) VALUES (${agentId}, ${rule}, ${detail}, ${hubId})
    ON CONFLICT (agent_id) DO UPDATE SET rule = EXCLUDED.rule, detail = EXCLUDED.detail, since = now(), hub_id = EXCLUDED.hub_id
      WHERE healing_requests.rule = 'memory' AND EXCLUDED.rule = 'task_overdue'
    RETURNING agent_id`
  return rows.length === 1
}

/** The agent's memory is back under the limit: its memory request, if any, goes. */
export async function dropMemoryRequest(sql: Queryable, agentId: string): Promise<void> {
  await sql`DELETE FROM healing_requests WHERE agent_id = ${agentId} AND rule = 'memory'`
}

/** Agents whose overdue task's force restart waits for the budget or runs: they get no new task meanwhile. */
export async function waitingOverdue(sql: Queryable): Promise<Set<string>> {
  // Filed and not yet commanded, or commanded and not over: the agent is held out of dispatch
  // until its force restart is done, whichever hub or step it is at.
  const rows = await sql<{ agent_id: string }[]>`
    SELECT agent_id FROM healing_requests WHERE rule = 'task_overdue'
    UNION
    SELECT agent_id FROM restarts WHERE reason = 'task_overdue' AND state IN ('commanded', 'deferred', 'restarting')`
  return new Set(rows.map((r) => r.agent_id))
}

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

/**
 * A request's row: the request and its agent's budget, flat as SQL returns them (the budget's
 * columns are named as AgentBudget's fields). `inFlight`: a restart of any kind is pending for
 * the agent (it will come back a new process).
 */
export type HealingRequestRow = Omit<HealingRequest, 'budget'> & AgentBudget

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
      EXISTS (SELECT 1 FROM restarts r WHERE r.agent_id = q.agent_id AND r.state IN ${tx.unsafe(PENDING)}) AS "inFlight",
      (SELECT count(*)::int FROM healing_actions x WHERE x.agent_id = q.agent_id AND x.action = 'restart' AND x.at > ${window}) AS "recentRestarts",
      coalesce((SELECT max(r.updated_at) FROM healing_actions x JOIN restarts r ON r.restart_id = x.restart_id
          WHERE x.agent_id = q.agent_id AND x.action = 'restart' AND r.state IN ('completed', 'failed'))
        > now() - ${s.cooldownS}::float8 * interval '1 second', false) AS cooling,
      EXISTS (SELECT 1 FROM healing_actions x WHERE x.agent_id = q.agent_id AND x.action = 'escalate' AND x.at > ${window}) AS "escalatedInWindow"
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

/** Whether a request of the agent waits for the decider. */
export async function hasHealingRequest(sql: Queryable, agentId: string): Promise<boolean> {
  const [row] = await sql<{ waiting: boolean }[]>`SELECT EXISTS (SELECT 1 FROM healing_requests WHERE agent_id = ${agentId}) AS waiting`
  return row.waiting
}

/** Whether a decider step could do anything: a request waits, or a healing restart's action has not followed its restart to its end. */
export async function hasHealingWork(sql: Queryable): Promise<boolean> {
  const [row] = await sql<{ work: boolean }[]>`SELECT EXISTS (SELECT 1 FROM healing_requests)
    OR EXISTS (SELECT 1 FROM healing_actions WHERE action = 'restart' AND state IN ${sql.unsafe(PENDING)}) AS work`
  return row.work
}
