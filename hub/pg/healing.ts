/**
 * Healing's shared rows: the paused flag (one row, `healing_state`), the history of actions
 * (`healing_actions`), the crashes the crash-loop rule counts (`agent_crashes`) and the restarts
 * waiting for the fleet-wide budget (`healing_requests`). Every time is the database's.
 */
import { inTransaction, type Queryable, type Sql } from './connect.ts'
import type { HealingAction } from '../healing/healing-history.ts'

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

export interface CrashRule {
  crashLimit: number
  windowS: number
}

/**
 * The agent identified as a new process, `restarts` restarts after the last one any hub saw.
 * Under the agent's row lock, so hubs seeing the same agent take turns: a waiting healing
 * request is dropped (it restarted anyway); unless a restart was commanded or the agent is
 * quarantined, the restarts are counted, and reaching the limit within the window (healing not
 * paused) quarantines it: drained and flagged in its row, which every hub reads. Returns the
 * quarantine action, if this made one.
 */
export function newProcessSeen(
  sql: Sql, o: { agentId: string; hubId: string; restarts: number; rule: CrashRule; actionId: string },
): Promise<HealingAction | null> {
  const { agentId, rule } = o
  return inTransaction(sql, async (tx) => {
    await tx`DELETE FROM healing_requests WHERE agent_id = ${agentId}`
    const [agent] = await tx<{ quarantined: boolean; commanded: boolean; paused: boolean }[]>`
      SELECT a.quarantined, EXISTS (SELECT 1 FROM restarts r WHERE r.agent_id = a.agent_id
          AND r.state IN ('commanded', 'deferred', 'restarting')) AS commanded,
        (SELECT paused FROM healing_state) AS paused
      FROM agents a WHERE a.agent_id = ${agentId} FOR UPDATE OF a`
    if (!agent || agent.quarantined || agent.commanded) return null
    const window = tx`now() - ${rule.windowS}::float8 * interval '1 second'`
    await tx`INSERT INTO agent_crashes (agent_id) SELECT ${agentId} FROM generate_series(1, ${Math.min(o.restarts, rule.crashLimit)})`
    // More than the limit never changes a decision: keep the newest `crashLimit` within the window.
    await tx`DELETE FROM agent_crashes c WHERE c.agent_id = ${agentId} AND (c.at <= ${window} OR c.ctid NOT IN (
      SELECT ctid FROM agent_crashes WHERE agent_id = ${agentId} ORDER BY at DESC LIMIT ${rule.crashLimit}))`
    const [{ crashes }] = await tx<{ crashes: number }[]>`SELECT count(*)::int AS crashes FROM agent_crashes WHERE agent_id = ${agentId}`
    if (crashes < rule.crashLimit || agent.paused) return null
    await tx`UPDATE agents SET quarantined = true, drained = true, updated_at = now() WHERE agent_id = ${agentId}`
    await tx`DELETE FROM agent_crashes WHERE agent_id = ${agentId}`
    return insertHealingAction(tx, o.hubId, {
      action_id: o.actionId, agent_id: agentId, rule: 'crash_loop', action: 'quarantine',
      detail: `${crashes} unplanned restarts within ${rule.windowS} s`, restart_id: null, state: 'quarantined',
    })
  })
}

/** An operator resumed the agent: its quarantine action is `lifted` and its crash count starts over. */
export async function liftQuarantine(tx: Queryable, agentId: string): Promise<string[]> {
  const rows = await tx<{ action_id: string }[]>`UPDATE healing_actions SET state = 'lifted', updated_at = now()
    WHERE agent_id = ${agentId} AND action = 'quarantine' AND state = 'quarantined' RETURNING action_id`
  if (rows.length > 0) await tx`DELETE FROM agent_crashes WHERE agent_id = ${agentId}`
  return rows.map((r) => r.action_id)
}

export type RequestRule = 'memory' | 'task_overdue'

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
