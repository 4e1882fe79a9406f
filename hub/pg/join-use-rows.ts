/**
 * Join-token uses in cluster mode: one row per join token, counted by one statement, so that
 * across any number of hubs and concurrent requests at most `max_uses` claims succeed (the
 * upsert takes the row's lock; a claim past the limit updates nothing and returns no row).
 * An enrollment also inserts its agent id into enrolled_agents, in the same transaction as the
 * claim: of concurrent enrollments of one id, on any hubs, the first insert holds the key and
 * the others find it taken (409), and a used-up token rolls the insert back (nothing spent).
 * Rows of expired tokens and of enrolled ids past their remembering are deleted as claims come.
 */
import { StorageUnavailable } from '../api/admin.ts'
import type { EnrollOutcome, JoinUseStore } from '../enroll/join-uses.ts'
import { inTransaction, isConnectionError, type Queryable, type Sql } from './connect.ts'

export function createPgJoinUses(sql: Sql): JoinUseStore {
  return {
    async enroll({ agentId, jti, maxUses, expiresAtMs, rememberMs }) {
      try {
        await sql`DELETE FROM join_token_uses WHERE expires_at < now()`
        await sql`DELETE FROM enrolled_agents WHERE remember_until < now()`
        return await inTransaction(sql, async (tx): Promise<EnrollOutcome> => {
          const inserted = await tx`
            INSERT INTO enrolled_agents (agent_id, remember_until)
            VALUES (${agentId}, now() + ${rememberMs}::bigint * interval '1 millisecond')
            ON CONFLICT (agent_id) DO UPDATE SET remember_until = EXCLUDED.remember_until
            WHERE enrolled_agents.remember_until < now()
            RETURNING agent_id`
          if (inserted.length === 0) return 'agent_exists'
          if (!await claim(tx, jti, maxUses, expiresAtMs)) throw new UsedUp()
          return 'enrolled'
        })
      } catch (err) {
        if (err instanceof UsedUp) return 'used_up'
        if (isConnectionError(err)) throw new StorageUnavailable(String(err))
        throw err
      }
    },
  }
}

/** Thrown to roll the enrollment's insert back. */
class UsedUp extends Error {}

async function claim(sql: Queryable, jti: string, maxUses: number, expiresAtMs: number): Promise<boolean> {
  const rows = await sql<{ uses: number }[]>`
    INSERT INTO join_token_uses (jti, uses, expires_at)
    VALUES (${jti}, 1, 'epoch'::timestamptz + ${expiresAtMs}::bigint * interval '1 millisecond')
    ON CONFLICT (jti) DO UPDATE SET uses = join_token_uses.uses + 1
    WHERE join_token_uses.uses < ${maxUses}
    RETURNING uses`
  return rows.length === 1
}
