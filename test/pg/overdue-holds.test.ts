/**
 * Which agents the cluster holds out of dispatch for their task_overdue restart
 * (`waitingOverdue`, read by every hub's sweep): from the request's filing until the restart is
 * over. An agent let go in between, after the decider turned the request into a restart and
 * before that restart reached the agent's hub, claimed its overdue task again.
 */
import { describe, expect, it } from 'vitest'
import { inTransaction, type Sql } from '../../hub/pg/connect.ts'
import { fileHealingRequest, waitingOverdue } from '../../hub/pg/healing-rows.ts'
import { useMigratedDatabase } from '../../support/test-database.ts'

describe('agents held for their task_overdue restart', () => {
  let sql: Sql
  useMigratedDatabase(['healing_requests', 'restarts'], (_db, client) => { sql = client })

  /** What the decider does in one transaction: the request goes, the restart is commanded. */
  async function command(agentId: string, reason: string): Promise<string> {
    const restartId = `r-${agentId}-${reason}`
    await inTransaction(sql, async (tx) => {
      await tx`DELETE FROM healing_requests WHERE agent_id = ${agentId}`
      await tx`INSERT INTO restarts (restart_id, agent_id, reason, mode, state) VALUES (${restartId}, ${agentId}, ${reason}, 'force', 'commanded')`
    })
    return restartId
  }

  it('holds an agent from its request to the end of its restart', async () => {
    await fileHealingRequest(sql, 'hub-a', 'o-1', 'task_overdue', 'task t-1 not heard of in 2 s')
    expect(await waitingOverdue(sql)).toEqual(new Set(['o-1']))
    const restartId = await command('o-1', 'task_overdue')
    expect(await waitingOverdue(sql)).toEqual(new Set(['o-1']))
    for (const state of ['deferred', 'restarting']) {
      await sql`UPDATE restarts SET state = ${state} WHERE restart_id = ${restartId}`
      expect(await waitingOverdue(sql), state).toEqual(new Set(['o-1']))
    }
    await sql`UPDATE restarts SET state = 'completed' WHERE restart_id = ${restartId}`
    expect(await waitingOverdue(sql)).toEqual(new Set())
  })

  it('holds no agent for a memory request or a restart of another reason', async () => {
    await fileHealingRequest(sql, 'hub-a', 'm-1', 'memory', 'rss 900 MB above 512 MB')
    await command('a-1', 'admin_commanded')
    await command('h-1', 'heal:memory')
    expect(await waitingOverdue(sql)).toEqual(new Set())
  })
})
