/**
 * Rollouts as rows (read and written through pg-rollout-store.ts): `rollouts` (its owner hub and the owner's lease, on database time) and
 * `rollout_agents` (its agents in order, each with the restart_id it was given at its turn).
 * An agent's state is its restart's, read from `restarts` by that restart_id, so every hub
 * reads the same progress whichever hub carries the restart out.
 */
import type { Queryable } from './connect.ts'

export type RolloutState = 'running' | 'completed' | 'failed' | 'cancelled'

export interface RolloutRow {
  rollout_id: string
  state: RolloutState
  reason: string
  max_unavailable: number
  mode: 'graceful' | 'force'
  deadline_s: number | null
  error: string | null
  owner_hub_id: string | null
  created_at: number
  updated_at: number
}

export interface RolloutAgentRow {
  position: number
  agent_id: string
  restart_id: string | null
  error: string | null
  /** The restart's state, null before the agent's turn. */
  restart_state: string | null
  restart_error: string | null
  /** Milliseconds it has waited, offline at its turn (database time); null when not waiting. */
  waited_ms: number | null
}

const ROLLOUT_COLUMNS = `rollout_id, state, reason, max_unavailable, mode, deadline_s, error, owner_hub_id,
  epoch_ms(created_at) AS created_at, epoch_ms(updated_at) AS updated_at`

export interface NewRollout {
  rollout_id: string
  reason: string
  agent_ids: string[]
  max_unavailable: number
  mode: 'graceful' | 'force'
  deadline_s: number | null
}

/** Inserts the rollout, owned by `hubId` with a lease of `leaseMs`, and its agents in order. */
export async function insertRollout(tx: Queryable, r: NewRollout, hubId: string, leaseMs: number): Promise<RolloutRow> {
  const [row] = await tx<RolloutRow[]>`
    INSERT INTO rollouts (rollout_id, state, reason, max_unavailable, mode, deadline_s, owner_hub_id, lease_until)
    VALUES (${r.rollout_id}, 'running', ${r.reason}, ${r.max_unavailable}, ${r.mode}, ${r.deadline_s}, ${hubId},
      now() + ${leaseMs}::float8 * interval '1 millisecond')
    RETURNING ${tx.unsafe(ROLLOUT_COLUMNS)}`
  await tx`INSERT INTO rollout_agents (rollout_id, position, agent_id)
    SELECT ${r.rollout_id}, p - 1, id FROM unnest(${r.agent_ids}::text[]) WITH ORDINALITY AS t(id, p)`
  return row
}

export async function getRollout(sql: Queryable, rolloutId: string, lock = false): Promise<RolloutRow | null> {
  const [row] = await sql<RolloutRow[]>`SELECT ${sql.unsafe(ROLLOUT_COLUMNS)} FROM rollouts
    WHERE rollout_id = ${rolloutId} ${lock ? sql`FOR UPDATE` : sql``}`
  return row ?? null
}

export async function rolloutAgents(sql: Queryable, rolloutId: string): Promise<RolloutAgentRow[]> {
  return sql<RolloutAgentRow[]>`
    SELECT ra.position, ra.agent_id, ra.restart_id, ra.error, r.state AS restart_state, r.error AS restart_error,
      epoch_ms(now()) - epoch_ms(ra.waiting_since) AS waited_ms
    FROM rollout_agents ra LEFT JOIN restarts r ON r.restart_id = ra.restart_id
    WHERE ra.rollout_id = ${rolloutId} ORDER BY ra.position`
}

/**
 * The agent at `position` got its restart: recorded once (a step that runs again finds it set
 * and does nothing). Returns whether this call set it.
 */
export async function setAgentRestart(tx: Queryable, rolloutId: string, position: number, restartId: string): Promise<boolean> {
  const rows = await tx`UPDATE rollout_agents SET restart_id = ${restartId}, waiting_since = NULL
    WHERE rollout_id = ${rolloutId} AND position = ${position} AND restart_id IS NULL RETURNING position`
  return rows.length === 1
}

/** The agent at its turn is offline: counted from its first such step. Returns ms waited. */
export async function markWaiting(tx: Queryable, rolloutId: string, position: number): Promise<number> {
  const [row] = await tx<{ waited_ms: number }[]>`UPDATE rollout_agents SET waiting_since = coalesce(waiting_since, now())
    WHERE rollout_id = ${rolloutId} AND position = ${position}
    RETURNING epoch_ms(now()) - epoch_ms(waiting_since) AS waited_ms`
  return row.waited_ms
}

export async function setAgentError(tx: Queryable, rolloutId: string, position: number, error: string): Promise<void> {
  await tx`UPDATE rollout_agents SET error = ${error} WHERE rollout_id = ${rolloutId} AND position = ${position}`
}

/** Ends a running rollout; false if it was not running (cancelled meanwhile, or over). */
export async function finishRollout(sql: Queryable, rolloutId: string, state: Exclude<RolloutState, 'running'>, error: string | null): Promise<boolean> {
  const rows = await sql`UPDATE rollouts SET state = ${state}, error = ${error}, updated_at = now(), lease_until = NULL
    WHERE rollout_id = ${rolloutId} AND state = 'running' RETURNING rollout_id`
  return rows.length === 1
}

export async function touchRollout(tx: Queryable, rolloutId: string): Promise<void> {
  await tx`UPDATE rollouts SET updated_at = now() WHERE rollout_id = ${rolloutId}`
}

/**
 * The running rollouts this hub drives from now: its own (lease renewed) and any whose owner's
 * lease ran out (taken over, one hub each: the row lock and SKIP LOCKED keep two hubs from
 * taking the same one).
 */
export async function claimRollouts(sql: Queryable, hubId: string, leaseMs: number): Promise<{ rollout_id: string; taken_from: string | null }[]> {
  return sql<{ rollout_id: string; taken_from: string | null }[]>`
    WITH mine AS (
      SELECT rollout_id, owner_hub_id FROM rollouts
      WHERE state = 'running' AND (owner_hub_id = ${hubId} OR lease_until IS NULL OR lease_until <= now())
      ORDER BY created_at FOR UPDATE SKIP LOCKED
    )
    UPDATE rollouts r SET owner_hub_id = ${hubId}, lease_until = now() + ${leaseMs}::float8 * interval '1 millisecond'
    FROM mine WHERE r.rollout_id = mine.rollout_id
    RETURNING r.rollout_id, CASE WHEN mine.owner_hub_id IS DISTINCT FROM ${hubId} THEN mine.owner_hub_id END AS taken_from`
}

/** Keeps the newest `keep` finished rollouts; returns how many were deleted. */
export async function pruneRollouts(sql: Queryable, keep: number): Promise<number> {
  const rows = await sql`DELETE FROM rollouts WHERE rollout_id IN (
      SELECT rollout_id FROM rollouts WHERE state <> 'running' ORDER BY updated_at DESC OFFSET ${keep})
    RETURNING rollout_id`
  return rows.length
}

/** Every connected agent that runs under pm2, by agent id: a rollout's agents when none are named. */
export async function defaultRolloutAgents(sql: Queryable): Promise<string[]> {
  const rows = await sql<{ agent_id: string }[]>`SELECT a.agent_id FROM agents a JOIN hubs h ON h.hub_id = a.hub_id
    WHERE a.connected AND h.lease_until > now() AND a.supervised ORDER BY a.agent_id COLLATE "C"`
  return rows.map((r) => r.agent_id)
}

/** The named agents the cluster knows, with whether each runs under pm2. */
export async function knownAgents(sql: Queryable, agentIds: string[]): Promise<Map<string, { supervised: boolean }>> {
  const rows = await sql<{ agent_id: string; supervised: boolean }[]>`
    SELECT agent_id, supervised FROM agents WHERE agent_id = ANY(${agentIds}::text[])`
  return new Map(rows.map((r) => [r.agent_id, { supervised: r.supervised }]))
}
