/**
 * Revocations as rows, shared by every hub of a cluster: an agent's cut-off in
 * `revoked_agents`, single tokens in `revoked_tokens` with the token's own expiry (a row past
 * it is pruned: the token is refused as expired anyway). Times are written exactly to the
 * millisecond (an interval added to the epoch, never a float of seconds), so the cut-off a
 * hub answers is the one every hub compares against.
 */
import type { Queryable } from './connect.ts'

/** `ms` epoch milliseconds as a timestamptz, exactly. */
const atMs = (sql: Queryable, ms: number) => sql`('epoch'::timestamptz + ${ms}::bigint * interval '1 millisecond')`

export interface RevocationRows {
  agents: { agent_id: string; revoked_before: number }[]
  /** Tokens not yet expired; `expires_at` null for a token that never expires. */
  tokens: { jti: string; expires_at: number | null }[]
}

export async function loadRevocations(sql: Queryable): Promise<RevocationRows> {
  const [agents, tokens] = await Promise.all([
    sql<RevocationRows['agents']>`SELECT agent_id, epoch_ms(revoked_before) AS revoked_before FROM revoked_agents`,
    sql<RevocationRows['tokens']>`SELECT jti, epoch_ms(expires_at) AS expires_at FROM revoked_tokens
      WHERE expires_at IS NULL OR expires_at > now()`,
  ])
  return { agents: [...agents], tokens: [...tokens] }
}

/**
 * Raises the agent's cut-off to the database's now (never lowers it), whichever hub revokes:
 * the hubs' clocks differ, the database's is the one they share. Returns the cut-off stored.
 */
export async function revokeAgentRow(sql: Queryable, agentId: string): Promise<number> {
  const [row] = await sql<{ revoked_before: number }[]>`
    INSERT INTO revoked_agents (agent_id, revoked_before) VALUES (${agentId}, date_trunc('milliseconds', clock_timestamp()))
    ON CONFLICT (agent_id) DO UPDATE SET revoked_before = greatest(revoked_agents.revoked_before, EXCLUDED.revoked_before)
    RETURNING epoch_ms(revoked_before) AS revoked_before`
  return row.revoked_before
}

export async function revokeTokenRow(sql: Queryable, jti: string, expiresAt: number | null): Promise<void> {
  await sql`INSERT INTO revoked_tokens (jti, expires_at)
    VALUES (${jti}, ${expiresAt === null ? null : atMs(sql, expiresAt)}) ON CONFLICT (jti) DO NOTHING`
}

/** The agent's cut-off as stored, or null if it was never revoked. */
export async function agentCutOff(sql: Queryable, agentId: string): Promise<number | null> {
  const [row] = await sql<{ revoked_before: number }[]>`
    SELECT epoch_ms(revoked_before) AS revoked_before FROM revoked_agents WHERE agent_id = ${agentId}`
  return row?.revoked_before ?? null
}

/** Deletes the rows of tokens past their expiry; returns how many. */
export async function pruneRevokedTokens(sql: Queryable): Promise<number> {
  const rows = await sql`DELETE FROM revoked_tokens WHERE expires_at <= now() RETURNING jti`
  return rows.length
}
