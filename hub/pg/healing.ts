/**
 * Healing's shared rows: the paused flag (one row, `healing_state`) and the history of actions
 * (`healing_actions`), written by the hub whose healing took each action. Times are the deciding
 * hub's, stored exactly to the millisecond.
 */
import type { Queryable } from './connect.ts'
import type { HealingAction } from '../healing-history.ts'

const atMs = (sql: Queryable, ms: number) => sql`('epoch'::timestamptz + ${ms}::bigint * interval '1 millisecond')`

export async function healingPaused(sql: Queryable): Promise<boolean> {
  const [row] = await sql<{ paused: boolean }[]>`SELECT paused FROM healing_state`
  return row?.paused ?? false
}

export async function setHealingPaused(sql: Queryable, paused: boolean): Promise<void> {
  await sql`UPDATE healing_state SET paused = ${paused}`
}

/** Records the action as it is now (inserted, or its state, restart and time moved on). */
export async function saveHealingAction(sql: Queryable, hubId: string, a: HealingAction): Promise<void> {
  await sql`INSERT INTO healing_actions (action_id, agent_id, rule, action, detail, restart_id, state, at, updated_at, hub_id)
    VALUES (${a.action_id}, ${a.agent_id}, ${a.rule}, ${a.action}, ${a.detail}, ${a.restart_id}, ${a.state},
      ${atMs(sql, a.at)}, ${atMs(sql, a.updated_at)}, ${hubId})
    ON CONFLICT (action_id) DO UPDATE SET restart_id = EXCLUDED.restart_id, state = EXCLUDED.state,
      detail = EXCLUDED.detail, updated_at = EXCLUDED.updated_at`
}

/** The newest `limit` actions, newest first. */
export async function listHealingActions(sql: Queryable, limit: number): Promise<HealingAction[]> {
  return sql<HealingAction[]>`SELECT action_id, agent_id, rule, action, detail, restart_id, state,
      epoch_ms(at) AS at, epoch_ms(coalesce(updated_at, at)) AS updated_at
    FROM healing_actions ORDER BY at DESC, action_id DESC LIMIT ${limit}`
}

/** Keeps the newest `keep` actions; returns how many went. */
export async function pruneHealingActions(sql: Queryable, keep: number): Promise<number> {
  const rows = await sql`DELETE FROM healing_actions WHERE action_id IN (
      SELECT action_id FROM healing_actions ORDER BY at DESC OFFSET ${keep}) RETURNING action_id`
  return rows.length
}
