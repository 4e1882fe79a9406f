/**
 * What the data dir's two journals share (the task table's, hub/tasks/task-journal.ts, and the
 * fleet state's, fleet-journal.ts): when a journal is compacted into a new snapshot, and how a
 * line is read (a torn or foreign line is `undefined`, never an exception).
 */

/** Journal bytes past which the next save writes a snapshot instead (amortised: a few times the snapshot). */
export const MIN_COMPACT_BYTES = 1024 * 1024
export const COMPACT_FACTOR = 4

/** Whether the journal has grown past what a snapshot would cost a few times over. */
export function shouldCompact(journalBytes: number, snapshotBytes: number): boolean {
  return journalBytes > Math.max(MIN_COMPACT_BYTES, COMPACT_FACTOR * snapshotBytes)
}

export function parseJournalLine(line: string | undefined): unknown {
  if (line === undefined) return undefined
  try {
    return JSON.parse(line)
  } catch {
    return undefined
  }
}

export const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)
