/**
 * A retry's delay is over by the clock the dispatch reads, however early its timer fires: Node
 * runs timers on the event loop's cached time, so a timer may fire a few ms before Date.now()
 * reaches its deadline. Here the hub's clock is stepped by hand, behind the fake timers.
 */
import { afterEach, expect, it, vi } from 'vitest'
import { createTestHub } from '../../support/in-process-hub.ts'
import type { HubMessage } from '../../shared/protocol.ts'
import { silentLogger } from '../../shared/log.ts'

afterEach(() => {
  vi.useRealTimers()
})

it('dispatches a retry once its delay is over by the hub clock, when its timer fired early', async () => {
  vi.useFakeTimers()
  let now = 1_000_000
  const hub = createTestHub({ secret: 's'.repeat(40), log: silentLogger, clock: { now: () => now } })
  const sent: HubMessage[] = []
  hub.fleet.identify('a-1', { send: (m) => sent.push(m), close: () => {} }, { supervised: false, instance_id: 'i', pm2_info: null })
  const rec = hub.fleet.get('a-1')!
  hub.tasks.identified(rec, null)
  const assigned = () => sent.filter((m) => m.type === 'task_assign').length
  const task = hub.tasks.create({ n: 1 }, null, undefined, { retries: 1, retry_delay_ms: 500 }).task
  await vi.advanceTimersByTimeAsync(0)
  hub.tasks.accepted(rec, task.task_id)
  hub.tasks.finished(rec, task.task_id, { kind: 'failed', error: 'run 0' })
  await vi.advanceTimersByTimeAsync(0)
  expect(task).toMatchObject({ status: 'queued', run_after: 1_000_500 })
  // The timer fires while the hub's clock still reads 2 ms short of the retry's time.
  now += 498
  await vi.advanceTimersByTimeAsync(500)
  expect(assigned()).toBe(1)
  now += 2
  await vi.advanceTimersByTimeAsync(2)
  expect(assigned()).toBe(2)
  expect(task).toMatchObject({ status: 'assigned', retried: 1 })
  hub.close()
})
