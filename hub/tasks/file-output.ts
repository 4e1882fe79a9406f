/**
 * Task output on a single hub, kept beside its task: in memory (MemoryTaskOutputs) and in one
 * file per task under `<data dir>/task-output/`, written at most once a second while the task
 * writes, so it survives a hub restart as its task does. Bounded: each file holds at most the
 * 1 MiB memory keeps, and a file goes when its task is forgotten (forget, and at start for tasks
 * the hub no longer has). Read back lazily, when a task's output is first asked for.
 */
import * as v from 'valibot'
import type { Logger } from '../../shared/log.ts'
import type { StateFiles } from './task-store.ts'
import { MemoryTaskOutputs, type KeptSnapshot, type OutputRead, type OutputStreamName, type TaskOutputStore } from './output.ts'

export const OUTPUT_DIR = 'task-output'
const FLUSH_MS = 1000

/** Runtime file access the output files need beyond StateFiles. */
export interface OutputFiles extends StateFiles {
  mkdirp(dir: string): Promise<void>
  /** The names in `dir` ([] when it does not exist). */
  list(dir: string): Promise<string[]>
  /** Removes a file; a missing one is no error. */
  remove(path: string): Promise<void>
}

const Snapshot = v.object({
  chunks: v.array(v.object({
    seq: v.pipe(v.number(), v.integer(), v.minValue(1)), stream: v.picklist(['stdout', 'stderr']), data: v.string(), at: v.number(),
  })),
  truncated: v.boolean(),
})

/** Task ids that are safe as file names; output of any other id is kept in memory only. */
const SAFE_ID = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/

export class FileTaskOutputs implements TaskOutputStore {
  private readonly dirty = new Set<string>()
  /**
   * Tasks that may have a file: kept at start, or written since. Past its 10 000th finished task
   * a hub forgets one task per task finished, most of which never had output; looking each one's
   * file up on disk (a synchronous stat on Node) was about 5 % of the hub's main thread under
   * task_throughput (profiled, docs/benchmarks.md, round 7). At most one entry per file.
   */
  private readonly onDisk = new Set<string>()
  private timer: ReturnType<typeof setTimeout> | null = null
  private writing: Promise<void> = Promise.resolve()

  constructor(
    private readonly memory: MemoryTaskOutputs,
    private readonly dir: string,
    private readonly files: OutputFiles,
    private readonly log: Logger,
  ) {}

  /** Removes the files of tasks the hub no longer has (`known`: the restored tasks). */
  async start(known: (taskId: string) => boolean): Promise<void> {
    await this.files.mkdirp(this.dir)
    for (const name of await this.files.list(this.dir)) {
      const id = name.endsWith('.json') ? name.slice(0, -5) : null
      if (id === null || !known(id)) await this.files.remove(`${this.dir}/${name}`).catch(() => {})
      else this.onDisk.add(id)
    }
  }

  append(taskId: string, stream: OutputStreamName, data: string, dropped: number): void {
    this.memory.append(taskId, stream, data, dropped)
    if (!SAFE_ID.test(taskId)) return
    this.dirty.add(taskId)
    this.timer ??= setTimeout(() => {
      this.timer = null
      void this.flush()
    }, FLUSH_MS)
  }

  async read(taskId: string, afterSeq: number): Promise<OutputRead> {
    if (!this.memory.has(taskId) && SAFE_ID.test(taskId)) {
      const saved = await this.load(taskId)
      if (saved) this.memory.restore(taskId, saved)
    }
    return this.memory.read(taskId, afterSeq)
  }

  async written(): Promise<void> {}

  forget(taskIds: readonly string[]): void {
    this.memory.forget(taskIds)
    for (const id of taskIds) {
      this.dirty.delete(id)
      if (this.onDisk.delete(id)) this.writing = this.writing.then(() => this.files.remove(this.path(id))).catch(() => {})
    }
  }

  /** Writes what changed; failures are logged and tried again with the next change. */
  flush(): Promise<void> {
    const ids = [...this.dirty]
    this.dirty.clear()
    // Before the write is queued, so a forget that comes meanwhile queues the removal after it.
    for (const id of ids) this.onDisk.add(id)
    this.writing = this.writing.then(async () => {
      for (const id of ids) {
        const snapshot = this.memory.snapshot(id)
        if (!snapshot) continue
        await this.files.writeAtomic(this.path(id), JSON.stringify(snapshot)).catch((err) => {
          this.log.warn('task output not saved', { task_id: id, error: String(err) })
        })
      }
    })
    return this.writing
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    void this.flush()
  }

  private async load(taskId: string): Promise<KeptSnapshot | null> {
    try {
      const text = await this.files.read(this.path(taskId))
      if (text === null) return null
      const parsed = v.safeParse(Snapshot, JSON.parse(text))
      return parsed.success ? parsed.output : null
    } catch {
      // Unreadable or corrupt: as if nothing was kept.
      return null
    }
  }

  private path(taskId: string): string {
    return `${this.dir}/${taskId}.json`
  }
}
