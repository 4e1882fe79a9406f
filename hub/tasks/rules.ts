/**
 * Tasks' rules (CONTRACT.md, "Task control (v3)" and "One engine, two stores (v3)"), written once
 * and followed by both stores: one hub's memory store (hub/tasks/memory-task-queue-store.ts) and the cluster's
 * (hub/pg/pg-task-store.ts), which decides a requeue and a failed run's retry here, on the row it
 * holds locked, and writes what these functions answer.
 */
import * as v from 'valibot'
import { Labels } from '../../shared/labels.ts'
import { STORAGE_UNAVAILABLE, type TaskOutcome } from '../../shared/protocol.ts'
import { withinResultLimit } from './outcome-text.ts'

export type TaskStatus = 'queued' | 'assigned' | 'working' | 'completed' | 'failed' | 'cancelled'

export const TASK_STATUSES = ['queued', 'assigned', 'working', 'completed', 'failed', 'cancelled'] as const

/** What a task asks of its dispatch besides its agent: set at creation, never changed. */
export interface TaskExtras {
  /** Dispatched only to an agent carrying every one. */
  labels: string[]
  /** Failed runs queued again, at most this many times. */
  retries: number
  /** The first retry's delay; each next one doubles it. */
  retry_delay_ms: number
}

export const TASK_EXTRAS_DEFAULTS: TaskExtras = { labels: [], retries: 0, retry_delay_ms: 1000 }

/** A request's extras with the defaults for what it leaves out (an explicit `undefined` too). */
export function withExtrasDefaults(extras: Partial<TaskExtras> | undefined): TaskExtras {
  const given: Record<string, unknown> = { ...TASK_EXTRAS_DEFAULTS }
  for (const key in extras) if ((extras as Record<string, unknown>)[key] !== undefined) given[key] = (extras as Record<string, unknown>)[key]
  return given as unknown as TaskExtras
}
export const MAX_RETRIES = 10

/** The request body's part of it, validated by the routes. */
export const TaskExtrasBody = {
  labels: v.optional(Labels),
  retries: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_RETRIES))),
  retry_delay_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(3_600_000))),
  all: v.optional(v.boolean()),
}

export function isFinished(status: TaskStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled'
}

export function isInFlight(status: TaskStatus): boolean {
  return status === 'assigned' || status === 'working'
}

/**
 * What a cancel does to a task in `status`: a queued one is cancelled at once; one in flight is
 * cancelled too and its agent told to stop it (SIGTERM, then SIGKILL after the sidecar's grace);
 * a finished one is left as it is (409 task_finished).
 */
export function cancelVerdict(status: TaskStatus): 'cancel' | 'cancel_and_signal' | 'finished' {
  if (isFinished(status)) return 'finished'
  return isInFlight(status) ? 'cancel_and_signal' : 'cancel'
}

/**
 * After a failed run: the delay before it runs again, or null when its retries are used up.
 * `retried`: how many times it was already queued again for a failure. Interruptions do not count.
 */
export function retryDelay(task: { retries: number; retry_delay_ms: number; retried: number }): number | null {
  if (task.retried >= task.retries) return null
  return task.retry_delay_ms * 2 ** task.retried
}

/**
 * Whether `agentId`'s report of the task (its outcome, or that it still holds it) is taken: while
 * the task is in flight on that agent, or queued again after its grace period and not yet taken
 * by anyone, from the agent it was last given to (`lastAgentId`). Not for a task waiting for a
 * retry: a report then is a resend of the failure that queued it. (The cluster's statements hold
 * the same condition in their WHERE: task-reports.ts, task-queue.ts adoptTask.)
 */
export function takesReportFrom(
  task: { status: TaskStatus; agent_id: string | null; run_after: number | null }, lastAgentId: string | undefined, agentId: string,
): boolean {
  if (isInFlight(task.status)) return task.agent_id === agentId
  return task.status === 'queued' && task.run_after === null && lastAgentId === agentId
}

/**
 * Whether an interruption counts as an attempt. A run cut short (force restart, shutdown, crash)
 * does; a refusal before it started (the sidecar was busy or restarting) does not, except
 * `storage_unavailable`: a sidecar that cannot write its queue file refuses every task, which
 * must then fail after its attempts (shared/protocol.ts), not come back forever.
 */
export function countsAsAttempt(reason: string, started: boolean): boolean {
  return started || reason === STORAGE_UNAVAILABLE
}

/**
 * Whether a task counts as an attempt when its agent identifies (again, or on a hub started
 * again) without it: by countsAsAttempt's rule, one it had accepted (`working`) was cut short,
 * while one only `assigned` never started (the assignment was lost with the connection or the
 * hub). The same on one hub and in a cluster.
 */
export function lostCountsAsAttempt(status: TaskStatus): boolean {
  return countsAsAttempt('lost', status === 'working')
}

/** A task taken back from its agent, as it is to be stored. */
export interface Requeued {
  status: 'queued' | 'failed'
  attempts: number
  /** Queued: its pinned agent (or none); failed: the agent that ran it last. */
  agent_id: string | null
  error: string | null
}

/**
 * A task taken back from its agent (gone past its grace, refused it, cut short, overdue, not
 * accepted in time): queued again, or failed once it has had `maxAttempts`. `counted: false`
 * (countsAsAttempt) takes back the attempt its assignment counted.
 */
export function requeueVerdict(
  task: { attempts: number; pinned: string | null; agent_id: string | null; error: string | null },
  counted: boolean,
  maxAttempts: number,
): Requeued {
  const attempts = counted ? task.attempts : Math.max(0, task.attempts - 1)
  if (attempts >= maxAttempts) return { status: 'failed', attempts, agent_id: task.agent_id, error: `interrupted ${attempts} times` }
  return { status: 'queued', attempts, agent_id: task.pinned, error: task.error }
}

/** What an agent's outcome makes of its task. */
export type OutcomeVerdict =
  | { status: 'completed'; result: unknown }
  | { status: 'failed'; error: string }
  /** A failed run with retries left: queued again, to run once `delayMs` has passed. */
  | { status: 'queued'; error: string; delayMs: number }

/**
 * An agent's outcome as stored: the result limit first (outcome-text.ts withinResultLimit: over
 * 192 KiB fails with result_too_large), then a failure with retries left is queued again after its
 * delay (retryDelay), else the task ends.
 */
export function outcomeVerdict(
  task: { retries: number; retry_delay_ms: number; retried: number },
  reported: Exclude<TaskOutcome, { kind: 'interrupted' }>,
): OutcomeVerdict {
  const outcome = withinResultLimit(reported)
  if (outcome.kind === 'complete') return { status: 'completed', result: outcome.result }
  const delayMs = retryDelay(task)
  return delayMs === null ? { status: 'failed', error: outcome.error } : { status: 'queued', error: outcome.error, delayMs }
}

/** How long after its assignment a task its agent never reports is overdue: its timeout and the grace period. */
export function overdueAfterMs(task: { timeout_ms: number }, graceMs: number): number {
  return task.timeout_ms + graceMs
}

/** GET /api/admin/tasks's query. The cursor is opaque to clients: digits, newest first below it. */
export const TasksQuery = v.object({
  status: v.optional(v.picklist(TASK_STATUSES)),
  agent_id: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9._-]{1,64}$/, 'agent ids are 1 to 64 characters of A-Za-z0-9._-'))),
  limit: v.optional(v.pipe(v.string(), v.regex(/^\d{1,4}$/, 'limit is 1 to 1000'), v.transform(Number), v.minValue(1, 'limit is 1 to 1000'), v.maxValue(1000, 'limit is 1 to 1000')), '100'),
  cursor: v.optional(v.pipe(v.string(), v.regex(/^\d{1,18}$/, 'cursor is a value from next_cursor'))),
})
export type TasksQuery = v.InferOutput<typeof TasksQuery>

/**
 * One page of `newestFirst` (each with its insertion sequence), filtered. `next_cursor`: the
 * sequence to continue below, null on the last page.
 */
export function pageTasks<T extends { status: TaskStatus; agent_id: string | null }>(
  newestFirst: Iterable<{ seq: number; task: T }>,
  q: TasksQuery,
): { tasks: T[]; next_cursor: string | null } {
  const below = q.cursor === undefined ? Infinity : Number(q.cursor)
  const tasks: T[] = []
  let last = 0
  for (const { seq, task } of newestFirst) {
    if (seq >= below) continue
    if (q.status !== undefined && task.status !== q.status) continue
    if (q.agent_id !== undefined && task.agent_id !== q.agent_id) continue
    if (tasks.length === q.limit) return { tasks, next_cursor: String(last) }
    tasks.push(task)
    last = seq
  }
  return { tasks, next_cursor: null }
}
