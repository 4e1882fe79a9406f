/**
 * What a task has written (CONTRACT.md, "Task control (v3)"): `task_output` frames from its
 * sidecar, the last MAX_OUTPUT_BYTES per task kept, older output dropped and the task's output
 * marked `truncated`. The store is this hub's memory (MemoryTaskOutputs, below) or, in cluster
 * mode, a table every hub reads (hub/pg/pg-task-output.ts); both follow keepNewest.
 */
import { utf8Length } from '../../shared/protocol.ts'

/** Output kept per task. */
export const MAX_OUTPUT_BYTES = 1024 * 1024
/** Output kept in a single hub's memory, all tasks together: past it the oldest tasks' output goes. */
export const MAX_MEMORY_OUTPUT_BYTES = 64 * 1024 * 1024

export type OutputStreamName = 'stdout' | 'stderr'

export interface OutputChunk {
  stream: OutputStreamName
  data: string
  /** When the hub received it, epoch ms. */
  at: number
}

/** A chunk with its place in the task's output (increasing), for a follower to go on from. */
export type StoredChunk = OutputChunk & { seq: number }

export interface OutputRead {
  chunks: StoredChunk[]
  /** Older output was dropped (by the hub's bound, or by the sidecar's when it printed faster than it may send). */
  truncated: boolean
}

export interface TaskOutputStore {
  /**
   * Adds a chunk of `taskId`'s output, received from the agent running it. `dropped`: bytes the
   * sidecar dropped before this chunk. Never throws; a chunk that cannot be kept is logged.
   */
  append(taskId: string, stream: OutputStreamName, data: string, dropped: number): void
  /** The chunks kept after `afterSeq` (0: all), oldest first. */
  read(taskId: string, afterSeq: number): Promise<OutputRead>
  /** Resolves once every chunk appended so far for `taskId` is stored (cluster: committed). */
  written(taskId: string): Promise<void>
  /** The tasks are forgotten: their output goes too (a cluster's goes with its rows). */
  forget?(taskIds: readonly string[]): void
}

/** One task's kept output as a file holds it (file-output.ts). */
export interface KeptSnapshot {
  chunks: StoredChunk[]
  truncated: boolean
}

/**
 * The rule both stores follow: how many of the oldest chunks to drop so that the rest, the
 * newest, fit in `max` bytes.
 */
export function oldestToDrop(sizesOldestFirst: readonly number[], max: number = MAX_OUTPUT_BYTES): number {
  let total = sizesOldestFirst.reduce((a, b) => a + b, 0)
  let drop = 0
  while (total > max && drop < sizesOldestFirst.length) total -= sizesOldestFirst[drop++]
  return drop
}

interface KeptOutput {
  chunks: (StoredChunk & { bytes: number })[]
  bytes: number
  truncated: boolean
  nextSeq: number
}

/** The single hub's output: memory, bounded per task and in all. */
export class MemoryTaskOutputs implements TaskOutputStore {
  /** In order of each task's first output: the first to go when all of it is over its bound. */
  private readonly byTask = new Map<string, KeptOutput>()
  private total = 0

  constructor(private readonly now: () => number, private readonly maxTotal = MAX_MEMORY_OUTPUT_BYTES) {}

  append(taskId: string, stream: OutputStreamName, data: string, dropped: number): void {
    let kept = this.byTask.get(taskId)
    if (!kept) this.byTask.set(taskId, kept = { chunks: [], bytes: 0, truncated: false, nextSeq: 1 })
    const bytes = utf8Length(data)
    kept.chunks.push({ seq: kept.nextSeq++, stream, data, at: this.now(), bytes })
    kept.bytes += bytes
    this.total += bytes
    if (dropped > 0) kept.truncated = true
    const drop = oldestToDrop(kept.chunks.map((c) => c.bytes))
    if (drop > 0) {
      const gone = kept.chunks.splice(0, drop).reduce((sum, c) => sum + c.bytes, 0)
      kept.bytes -= gone
      this.total -= gone
      kept.truncated = true
    }
    for (const [id, other] of this.byTask) {
      if (this.total <= this.maxTotal || id === taskId) break
      this.total -= other.bytes
      this.byTask.delete(id)
    }
  }

  async read(taskId: string, afterSeq: number): Promise<OutputRead> {
    const kept = this.byTask.get(taskId)
    if (!kept) return { chunks: [], truncated: false }
    const chunks = kept.chunks.filter((c) => c.seq > afterSeq).map(({ bytes: _bytes, ...chunk }) => chunk)
    return { chunks, truncated: kept.truncated }
  }

  async written(): Promise<void> {}

  has(taskId: string): boolean {
    return this.byTask.has(taskId)
  }

  snapshot(taskId: string): KeptSnapshot | null {
    const kept = this.byTask.get(taskId)
    return kept ? { chunks: kept.chunks.map(({ bytes: _bytes, ...chunk }) => chunk), truncated: kept.truncated } : null
  }

  /** Takes back what a file held (after a hub restart), unless output came meanwhile. */
  restore(taskId: string, snapshot: KeptSnapshot): void {
    if (this.byTask.has(taskId)) return
    const chunks = snapshot.chunks.map((c) => ({ ...c, bytes: utf8Length(c.data) }))
    const bytes = chunks.reduce((sum, c) => sum + c.bytes, 0)
    this.byTask.set(taskId, { chunks, bytes, truncated: snapshot.truncated, nextSeq: (chunks.at(-1)?.seq ?? 0) + 1 })
    this.total += bytes
  }

  forget(taskIds: readonly string[]): void {
    for (const id of taskIds) {
      const kept = this.byTask.get(id)
      if (!kept) continue
      this.total -= kept.bytes
      this.byTask.delete(id)
    }
  }
}
