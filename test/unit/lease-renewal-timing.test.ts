/**
 * When the lease's renewals run and what they write (hub/cluster/lease.ts), on fake timers and a
 * hub clock that is the timers' own: the database's side is a stand-in for the `sql` the lease is given, whose
 * answers the test releases one at a time. Its lapses, watchdog and the database's own answers
 * against a real PostgreSQL: test/pg/lease-watchdog.test.ts and test/hardening/lease-split.test.ts.
 */
import { afterEach, beforeEach, expect, it, vi } from 'vitest'
import { HubLease } from '../../hub/cluster/lease.ts'
import type { Sql } from '../../hub/pg/connect.ts'
import { silentLogger } from '../../shared/log.ts'

const LEASE_MS = 1500
/** Renewals the test has not answered yet, oldest first. */
let waiting: Array<() => void>
/** Whether the next renewal answers at once (true) or waits for the test. */
let answerAtOnce: boolean
let clock: number

/** The queries sent, in order: `disconnect` (the hub's agents' rows) or `renew`. */
let sent: Array<'disconnect' | 'renew'>

/** Stands in for postgres.js's tagged template: every query resolves to one fresh lease row. */
const sql = ((strings: TemplateStringsArray): Promise<unknown[]> => new Promise((resolve) => {
  sent.push(strings.join('').includes('UPDATE agents SET connected = false') ? 'disconnect' : 'renew')
  const answer = () => resolve([{ lease_until: 0, lapsed: false, others_may_have_acted: false }])
  if (answerAtOnce) answer()
  else waiting.push(answer)
})) as unknown as Sql

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
  waiting = []
  sent = []
  answerAtOnce = true
  clock = 0
})
afterEach(() => {
  vi.useRealTimers()
})

async function advanceTo(ms: number): Promise<void> {
  while (clock < ms) {
    clock++
    await vi.advanceTimersByTimeAsync(1)
  }
}

it('renews soon after a renewal that went through late, before what is left of its lease runs out', async () => {
  const lease = new HubLease({ sql, hubId: 'h', leaseMs: LEASE_MS, runtime: 'node', log: silentLogger, now: () => clock })
  let lost = 0
  lease.onLost(() => lost++)
  await lease.start()
  answerAtOnce = false
  // The renewal sent at 500 ms hangs (the database away); the lease taken at 0 runs out at 1500.
  await advanceTo(1600)
  expect(lost).toBe(1)
  expect(lease.valid).toBe(false)
  // It goes through at 1600: its lease runs from when it was sent, so 400 ms of it are left.
  answerAtOnce = true
  waiting.shift()!()
  await advanceTo(1601)
  expect(lease.valid).toBe(true)
  // The next renewal must come before 2000, not a full third of a lease (500 ms) later.
  await advanceTo(2600)
  expect(lease.valid).toBe(true)
  expect(lost).toBe(1)
  await lease.stop()
})

it('marks its agents\' rows disconnected when a renewal goes through after the hub let go of them meanwhile', async () => {
  const lease = new HubLease({ sql, hubId: 'h', leaseMs: LEASE_MS, runtime: 'node', log: silentLogger, now: () => clock })
  let lost = 0
  lease.onLost(() => lost++)
  await lease.start()
  expect(sent).toEqual(['disconnect', 'renew'])
  answerAtOnce = false
  // Sent at 500 ms, before the hub let go (at 1500, its sockets closed, their releases unwritten).
  await advanceTo(1600)
  expect(lost).toBe(1)
  answerAtOnce = true
  sent = []
  waiting.shift()!()
  await advanceTo(1601)
  expect(lease.valid).toBe(true)
  expect(sent[0]).toBe('disconnect')
  await lease.stop()
})
