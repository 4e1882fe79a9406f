/**
 * The task table's journal: what changed since the last snapshot, one JSON line per change,
 * appended and fsynced, so a save costs what changed and not the whole table. The snapshot
 * (task-store.ts) carries a generation and the journal's first line names the generation it
 * follows: a journal left from before a compaction (a crash between writing the new snapshot
 * and starting the new journal) is never replayed over a newer snapshot. A torn last line (a
 * crash mid-append, before its save was acknowledged) is ignored.
 */
import type { Logger } from '../../shared/log.ts'
import { isRecord, parseJournalLine as parseLine } from '../store/journal-lines.ts'
import type { StoredTask } from './task-store.ts'

/** `json`, when given, is JSON.stringify(task), already made (a finished task's, see task-table.ts). */
export type TaskChange = { task: StoredTask; json?: string } | { removed: string }

export const journalPath = (snapshotPath: string) => `${snapshotPath}.journal`
export const journalHeader = (generation: number) => `${JSON.stringify({ journal: 1, generation })}\n`
export const journalLines = (changes: readonly TaskChange[]) =>
  changes.map((c) => ('task' in c ? `{"t":${c.json ?? JSON.stringify(c.task)}}` : JSON.stringify({ d: c.removed }))).join('\n') + '\n'

/**
 * Applies the journal `text` to `tasks` (by id, in order) when it follows `generation`.
 * `validate` checks each task as a snapshot entry is checked; an invalid entry is dropped.
 * Returns how many changes were applied.
 */
export function replayJournal(
  text: string,
  generation: number,
  tasks: Map<string, StoredTask>,
  validate: (entry: unknown) => StoredTask | null,
  log: Logger,
): number {
  const lines = text.split('\n')
  const header = parseLine(lines[0])
  if (!isHeader(header) || header.generation !== generation) {
    if (text.length > 0) log.warn('task journal does not follow the snapshot; not replayed', { generation })
    return 0
  }
  let applied = 0
  for (let i = 1; i < lines.length; i++) {
    if (lines[i] === '') continue
    const entry = parseLine(lines[i])
    if (entry === undefined) {
      // The last line may be torn by a crash mid-append: that save was never acknowledged.
      if (i !== lines.length - 1) log.error('task journal line is not JSON; the rest is not replayed', { line: i + 1 })
      break
    }
    if (isRecord(entry) && typeof entry.d === 'string') {
      tasks.delete(entry.d)
      applied++
      continue
    }
    const task = isRecord(entry) ? validate(entry.t) : null
    if (!task) {
      log.error('task journal entry is invalid; dropped', { line: i + 1 })
      continue
    }
    tasks.set(task.task_id, task) // a known id keeps its place: the table stays in creation order
    applied++
  }
  return applied
}

const isHeader = (x: unknown): x is { journal: 1; generation: number } =>
  isRecord(x) && x.journal === 1 && typeof x.generation === 'number'
