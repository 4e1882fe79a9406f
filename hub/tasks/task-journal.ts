/**
 * The task table's journal records (the file, its generation and when it is compacted are
 * hub/store/journaled-file.ts's): a line per task changed, `{"t":<task>}`, or forgotten,
 * `{"d":"<task_id>"}`, appended after the snapshot task-store.ts writes.
 */
import { isRecord } from '../store/journaled-file.ts'
import type { StoredTask } from './task-store.ts'

/** `json`, when given, is JSON.stringify(task), already made (a finished task's, see task-table.ts). */
export type TaskChange = { task: StoredTask; json?: string } | { removed: string }

export const journalLines = (changes: readonly TaskChange[]) =>
  changes.map((c) => ('task' in c ? `{"t":${c.json ?? JSON.stringify(c.task)}}` : JSON.stringify({ d: c.removed }))).join('\n') + '\n'

/**
 * Applies one journal entry to `tasks` (by id). `validate` checks a task as a snapshot entry is
 * checked. Returns false when the entry is invalid.
 */
export function applyTaskEntry(tasks: Map<string, StoredTask>, entry: unknown, validate: (entry: unknown) => StoredTask | null): boolean {
  if (!isRecord(entry)) return false
  if (typeof entry.d === 'string') {
    tasks.delete(entry.d)
    return true
  }
  const task = validate(entry.t)
  if (!task) return false
  tasks.set(task.task_id, task) // a known id keeps its place: the table stays in creation order
  return true
}
