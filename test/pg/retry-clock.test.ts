/**
 * A retry's wake-up in cluster mode, on a hub whose clock is not the database's: its delay is
 * counted in database time (the row's run_after against the same statement's updated_at), so a
 * hub whose clock runs ahead does not wake before the task may be claimed and then wait for its
 * next sweep (here a minute away, so only the wake-up can start the retry in time).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { agentOn, startClusterHub, type TestHub } from '../../support/cluster-hubs.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'
import type { TestSocket } from '../../support/ws-client.ts'

const SKEW_MS = 5000
let db: TestDatabase
let hub: TestHub
const sockets: TestSocket[] = []

beforeAll(async () => {
  db = await createTestDatabase()
  hub = await startClusterHub(db.url, 'skewed', { sweepMs: 60_000 })
})
afterEach(() => {
  vi.restoreAllMocks()
  for (const s of sockets.splice(0)) s.close()
})
afterAll(async () => {
  await hub?.stop()
  await db?.drop()
})

describe('a retry on a hub whose clock is ahead of the database', () => {
  it('is claimed once its delay has passed in database time, not at the next sweep', async () => {
    const socket = await agentOn(hub, 'skew-1')
    sockets.push(socket)
    const created = (await hub.api('POST', '/tasks', { input: {}, agent_id: 'skew-1', retries: 1, retry_delay_ms: 500 })).body
    expect((await socket.next('task_assign')).task_id).toBe(created.task_id)
    socket.send({ type: 'task_accepted', task_id: created.task_id })
    // From here this hub's clock reads SKEW_MS ahead of the database's.
    const realNow = Date.now.bind(Date)
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + SKEW_MS)
    socket.send({ type: 'task_failed', task_id: created.task_id, error: 'run 0' })
    await socket.next('task_ack')
    const retried = await socket.next('task_assign', 5000)
    expect(retried.task_id).toBe(created.task_id)
  })
})
