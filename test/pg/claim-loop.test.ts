/**
 * An agent that finishes a task takes the next one queued at once, not at the next nudge. The
 * claim loop (hub/cluster/claim-loop.ts) once claimed again for an agent before handing it the
 * task just claimed: that second claim found nothing, the agent was marked idle, and once free
 * again it waited for the next nudge or sweep (cluster_dispatch_rps fell from about 250 to 40
 * tasks/s). The sweep here runs once a minute, so only the claim loop can hand out the rest.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { agentOn, startClusterHub, type TestHub } from '../../support/cluster-hubs.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'

let db: TestDatabase
let hub: TestHub

beforeAll(async () => {
  db = await createTestDatabase()
  hub = await startClusterHub(db.url, 'hub-c', { sweepMs: 60_000 })
})

afterAll(async () => {
  await hub?.stop()
  await db?.drop()
})

it('gives one agent three queued tasks one after another, each as soon as it finishes the one before', async () => {
  const socket = await agentOn(hub, 'c-1')
  const ids: string[] = []
  for (let i = 0; i < 3; i++) {
    const created = await hub.api('POST', '/tasks', { input: { i }, agent_id: 'c-1' })
    expect(created.status).toBe(201)
    ids.push(created.body.task_id)
  }
  for (const id of ids) {
    const assign = await socket.next('task_assign', 10_000)
    expect(assign.task_id).toBe(id)
    socket.send({ type: 'task_accepted', task_id: id })
    socket.send({ type: 'task_complete', task_id: id, result: 'ok' })
    await socket.next('task_ack', 10_000)
  }
  for (const id of ids) expect((await hub.api('GET', `/tasks/${id}`)).body.status).toBe('completed')
  socket.close()
})
