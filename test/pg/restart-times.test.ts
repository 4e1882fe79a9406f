/**
 * A restart's times are when each step happened. A rollout's step runs in one transaction that
 * may begin before the restart it waits for ends; the next command it writes must still read
 * as later than that end (the cluster's "one at a time" is checked on these times).
 */
import { expect, it } from 'vitest'
import { inTransaction, type Sql } from '../../hub/pg/connect.ts'
import { commandRestart, commandRestartIn, getRestart, moveRestart, type RestartCommand } from '../../hub/pg/restarts.ts'
import { useMigratedDatabase } from '../../support/test-database.ts'

let sql: Sql
useMigratedDatabase([], (_db, client) => { sql = client }, { max: 3 })

const command = (restart_id: string): RestartCommand => ({ restart_id, reason: 'times', mode: 'graceful', deadline_s: null, rollout_id: null })
const noAnnounce = async () => {}

it('a command written in a transaction that began before the last restart ended is still later than that end', async () => {
  await sql`INSERT INTO hubs (hub_id, lease_until) VALUES ('hub-a', now() + interval '1 hour')`
  await sql`INSERT INTO agents (agent_id, hub_id, connected, supervised, pm2_info)
    VALUES ('r-1', 'hub-a', true, true, '{"restart_count": 0}'), ('r-2', 'hub-a', true, true, '{"restart_count": 0}')`
  const first = await commandRestart(sql, 'r-1', command('first'), noAnnounce)
  expect(first).toMatchObject({ ok: true, already_pending: false })
  const second = await inTransaction(sql, async (tx) => {
    // The transaction has begun (now() is fixed from here), and a few milliseconds pass.
    await tx`SELECT pg_sleep(0.01)`
    expect(await moveRestart(sql, 'hub-a', 'r-1', 'first', 'completed', null)).toBe(true)
    return commandRestartIn(tx, 'r-2', command('second'), noAnnounce)
  })
  expect(second).toMatchObject({ ok: true, already_pending: false })
  const ended = (await getRestart(sql, 'first'))!
  const next = (await getRestart(sql, 'second'))!
  expect(ended.state).toBe('completed')
  expect(ended.updated_at).toBeGreaterThanOrEqual(ended.requested_at)
  expect(next.requested_at).toBeGreaterThanOrEqual(ended.updated_at)
})
