/**
 * The cluster's side of AGENTCOM_MAX_QUEUED_TASKS (hub/security/queue-cap.ts), run in the
 * transaction that inserts the task. The count reads the partial index `tasks_queue` and stops
 * at the cap (LIMIT), so it never reads more than `max` index entries. Near the cap, creations
 * of every hub take one transaction lock and count again, so two hubs cannot both take the last
 * place; far from it they do not wait for each other.
 */
import type { Queryable } from './connect.ts'
import { QueueFull } from '../security/queue-cap.ts'

/** Within this many places of the cap, creations are serialized (see above). */
export const SERIALIZE_WITHIN = 64
/** pg_advisory_xact_lock's key for the queue cap ('aqcp' as a number: any constant would do). */
const QUEUE_CAP_LOCK = 0x61716370

async function queuedUpTo(tx: Queryable, max: number): Promise<number> {
  const [{ n }] = await tx<{ n: number }[]>`
    SELECT count(*)::int AS n FROM (SELECT 1 FROM tasks WHERE status = 'queued' LIMIT ${max}) AS queued`
  return n
}

/** Throws QueueFull when `max` tasks are queued already; call it before inserting one. */
export async function assertQueueRoom(tx: Queryable, max: number): Promise<void> {
  if (await queuedUpTo(tx, max) < max - SERIALIZE_WITHIN) return
  await tx`SELECT pg_advisory_xact_lock(${QUEUE_CAP_LOCK})`
  if (await queuedUpTo(tx, max) >= max) throw new QueueFull(max)
}
