/**
 * Join-token uses in cluster mode: one row per join token, counted by one statement, so that
 * across any number of hubs and concurrent requests at most `max_uses` claims succeed (the
 * upsert takes the row's lock; a claim past the limit updates nothing and returns no row).
 * Rows of expired tokens are deleted as claims come: such a token is refused anyway.
 */
import { StorageUnavailable } from '../admin.ts'
import type { JoinUseStore } from '../enroll/join-uses.ts'
import { isConnectionError, type Sql } from './connect.ts'

export function createPgJoinUses(sql: Sql): JoinUseStore {
  return {
    async claimUse(jti, maxUses, expiresAtMs) {
      try {
        await sql`DELETE FROM join_token_uses WHERE expires_at < now()`
        const rows = await sql<{ uses: number }[]>`
          INSERT INTO join_token_uses (jti, uses, expires_at)
          VALUES (${jti}, 1, 'epoch'::timestamptz + ${expiresAtMs}::bigint * interval '1 millisecond')
          ON CONFLICT (jti) DO UPDATE SET uses = join_token_uses.uses + 1
          WHERE join_token_uses.uses < ${maxUses}
          RETURNING uses`
        return rows.length === 1
      } catch (err) {
        if (isConnectionError(err)) throw new StorageUnavailable(String(err))
        throw err
      }
    },
  }
}
