/**
 * Restart commands as rows: a command is written here first (with its restart_id) and then
 * announced on the bus, so the hub holding the agent's socket can always read it, and the
 * partial unique index keeps one pending restart per agent whichever hub asks. The request's
 * rules are restart.ts's judgeRestart, on the rows read under the agent's lock. The holding
 * hub's restart engine moves each later state (moveRestart); a state only moves on from a
 * pending one, so a late or stale writer cannot undo a restart that is already over.
 *
 * A restart's times are the database's clock_timestamp(), not now(): now() is when the
 * transaction began, and a rollout's step may begin before the restart it waits for ends, so
 * its next command would seem to come before the end it followed.
 */
import { inTransaction, type Queryable, type Sql } from './connect.ts'
import { judgeRestart, type Restart, type RestartState } from '../agents/restart.ts'

export type { RestartState } from '../agents/restart.ts'
export const PENDING_STATES: readonly RestartState[] = ['commanded', 'deferred', 'restarting']

/** A restart as the hub knows it (restart.ts), with the agent and the hub that holds it. */
export interface RestartRow extends Restart {
  agent_id: string
  hub_id: string | null
}

export const RESTART_COLUMNS = `restart_id, agent_id, reason, mode, deadline_s, state,
  epoch_ms(requested_at) AS requested_at, epoch_ms(updated_at) AS updated_at, error,
  before_restart_count, before_pid, before_instance, rollout_id, hub_id`

export interface RestartCommand {
  restart_id: string
  reason: string
  mode: 'graceful' | 'force'
  deadline_s: number | null
  rollout_id: string | null
}

export type CommandOutcome =
  | { ok: true; restart: RestartRow; already_pending: boolean; hub_id: string }
  | { ok: false; error: 'agent_not_connected' | 'not_supervised' }

/**
 * Records a restart for `agentId` unless one is pending (then that one is the answer). Refused
 * when the agent is not connected to a hub holding its lease, or does not run under pm2. The
 * agent's row is locked meanwhile, so two hubs commanding at once agree on one restart.
 * `announce` runs inside the transaction with the new row (publish on the bus there: it goes
 * out at commit).
 */
export async function commandRestart(
  sql: Sql,
  agentId: string,
  cmd: RestartCommand,
  announce: (tx: Queryable, restart: RestartRow, hubId: string) => Promise<void>,
): Promise<CommandOutcome> {
  return inTransaction(sql, (tx) => commandRestartIn(tx, agentId, cmd, announce))
}

/** commandRestart inside the caller's transaction `tx` (a rollout's step). */
export async function commandRestartIn(
  tx: Queryable,
  agentId: string,
  cmd: RestartCommand,
  announce: (tx: Queryable, restart: RestartRow, hubId: string) => Promise<void>,
): Promise<CommandOutcome> {
  const [agent] = await tx<{ hub_id: string; live: boolean; supervised: boolean; pm2_info: any; instance_id: string | null }[]>`
    SELECT a.hub_id, (a.connected AND coalesce(h.lease_until > now(), false)) AS live, a.supervised, a.pm2_info, a.instance_id
    FROM agents a LEFT JOIN hubs h ON h.hub_id = a.hub_id WHERE a.agent_id = ${agentId} FOR UPDATE OF a`
  const [pending] = agent?.live && agent.supervised ? await tx<RestartRow[]>`SELECT ${tx.unsafe(RESTART_COLUMNS)} FROM restarts
    WHERE agent_id = ${agentId} AND state IN ('commanded', 'deferred', 'restarting')` : []
  const [busy] = pending || !agent?.live ? [] : await tx`SELECT 1 FROM tasks WHERE agent_id = ${agentId} AND status IN ('assigned', 'working') LIMIT 1`
  const verdict = judgeRestart({ live: agent?.live ?? false, supervised: agent?.supervised ?? false, busy: busy !== undefined, pending: pending ?? null }, cmd.mode)
  if (verdict.kind === 'refused') return { ok: false, error: verdict.error }
  if (verdict.kind === 'pending') return { ok: true, restart: pending, already_pending: true, hub_id: agent!.hub_id }
  const state: RestartState = verdict.state
  const [restart] = await tx<RestartRow[]>`
    INSERT INTO restarts (restart_id, agent_id, reason, mode, deadline_s, state, before_restart_count, before_pid,
      before_instance, rollout_id, hub_id, requested_at, updated_at)
    VALUES (${cmd.restart_id}, ${agentId}, ${cmd.reason}, ${cmd.mode}, ${cmd.deadline_s}, ${state},
      ${agent.pm2_info?.restart_count ?? null}, ${agent.pm2_info?.pid ?? null}, ${agent.instance_id}, ${cmd.rollout_id}, ${agent.hub_id},
      clock_timestamp(), clock_timestamp())
    RETURNING ${tx.unsafe(RESTART_COLUMNS)}`
  await announce(tx, restart, agent.hub_id)
  return { ok: true, restart, already_pending: false, hub_id: agent.hub_id }
}

export async function getRestart(sql: Queryable, restartId: string): Promise<RestartRow | null> {
  const [row] = await sql<RestartRow[]>`SELECT ${sql.unsafe(RESTART_COLUMNS)} FROM restarts WHERE restart_id = ${restartId}`
  return row ?? null
}

/** The agent's pending restart, if any. */
export async function pendingRestart(sql: Queryable, agentId: string): Promise<RestartRow | null> {
  const [row] = await sql<RestartRow[]>`SELECT ${sql.unsafe(RESTART_COLUMNS)} FROM restarts
    WHERE agent_id = ${agentId} AND state IN ('commanded', 'deferred', 'restarting')`
  return row ?? null
}

/**
 * The holding hub moves a pending restart of `agentId` on (it holds the agent now, so the row
 * names it). False when the row was not pending any more: over already, by another hub or a sweep.
 */
export async function moveRestart(sql: Queryable, hubId: string, agentId: string, restartId: string, state: RestartState, error: string | null): Promise<boolean> {
  const rows = await sql`UPDATE restarts SET state = ${state}, error = ${error}, hub_id = ${hubId}, updated_at = clock_timestamp()
    WHERE restart_id = ${restartId} AND agent_id = ${agentId} AND state IN ('commanded', 'deferred', 'restarting')
    RETURNING restart_id`
  return rows.length === 1
}

/** Ends a pending restart as failed (`error`), from any hub; false if it was not pending. */
export async function failRestart(sql: Queryable, restartId: string, error: string): Promise<boolean> {
  const rows = await sql`UPDATE restarts SET state = 'failed', error = ${error}, updated_at = clock_timestamp()
    WHERE restart_id = ${restartId} AND state IN ('commanded', 'deferred', 'restarting') RETURNING restart_id`
  return rows.length === 1
}

/**
 * Fails pending restarts of agents that have been offline (no live connection on a hub with
 * a lease) for longer than `timeoutMs`: the hub that would have timed them out may be gone.
 * Returns the restarts it failed (what GET /metrics needs to count them).
 */
export async function failStaleRestarts(sql: Queryable, timeoutMs: number): Promise<Array<{ restart_id: string; reason: string; rollout_id: string | null }>> {
  return await sql<{ restart_id: string; reason: string; rollout_id: string | null }[]>`
    UPDATE restarts r SET state = 'failed', error = 'timeout', updated_at = now()
    FROM agents a LEFT JOIN hubs h ON h.hub_id = a.hub_id
    WHERE a.agent_id = r.agent_id AND r.state IN ('commanded', 'deferred', 'restarting')
      AND NOT coalesce(a.connected AND h.lease_until > now(), false)
      AND greatest(r.updated_at, CASE WHEN a.connected THEN h.lease_until ELSE a.last_seen END)
        < now() - ${timeoutMs}::float8 * interval '1 millisecond'
    RETURNING r.restart_id, r.reason, r.rollout_id`
}
