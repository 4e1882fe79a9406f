/** One hub's task record and the answer to a cancel (hub-task-owner.ts, the engine's fast path). */
import type { StoredTask } from './task-store.ts'

export type { TaskStatus } from './rules.ts'

/** A task as one hub's memory store holds it: every field of StoredTask set (restore fills the defaults). */
export type TaskRecord = Required<StoredTask>

/** POST /api/admin/tasks/:task_id/cancel on one hub (CONTRACT.md, "Task control"). */
export type CancelAnswer = { ok: true; task: Readonly<TaskRecord> } | { ok: false; error: 'task_not_found' | 'task_finished' }
