/**
 * Which finished tasks the hub keeps in memory for GET: the newest ones, at most `maxCount`
 * of them and at most `maxBytes` of JSON in all, so memory stays bounded however large the
 * results. The task table (task-table.ts) forgets what this hands back.
 */
import { utf8Length } from '../../shared/protocol.ts'

/** Finished tasks' JSON kept in memory, in all. */
export const MAX_FINISHED_BYTES = 64 * 1024 * 1024

export class FinishedTasks {
  private ids: string[] = []
  private sizes: number[] = []
  private head = 0
  private bytes = 0

  constructor(private readonly maxCount: number, private readonly maxBytes: number = MAX_FINISHED_BYTES) {}

  /** Records a finished task; returns the ids, oldest first, that no longer fit. */
  add(taskId: string, json: string): string[] {
    const size = utf8Length(json)
    this.ids.push(taskId)
    this.sizes.push(size)
    this.bytes += size
    const evicted: string[] = []
    while (this.count > this.maxCount || (this.bytes > this.maxBytes && this.count > 1)) {
      evicted.push(this.ids[this.head])
      this.bytes -= this.sizes[this.head]
      this.head++
    }
    // Compact now and then instead of shifting on every eviction.
    if (this.head > 1024 && this.head * 2 > this.ids.length) {
      this.ids = this.ids.slice(this.head)
      this.sizes = this.sizes.slice(this.head)
      this.head = 0
    }
    return evicted
  }

  /** Forgets all but the newest `maxCount`; returns the ids that went, oldest first. */
  trim(maxCount: number): string[] {
    const evicted: string[] = []
    while (this.count > Math.max(0, maxCount)) {
      evicted.push(this.ids[this.head])
      this.bytes -= this.sizes[this.head]
      this.head++
    }
    return evicted
  }

  get count(): number {
    return this.ids.length - this.head
  }

  get totalBytes(): number {
    return this.bytes
  }

  /** The newest `n` ids, oldest first. */
  newest(n: number): string[] {
    return this.ids.slice(Math.max(this.head, this.ids.length - n))
  }
}
