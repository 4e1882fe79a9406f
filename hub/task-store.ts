/**
 * Durable tasks: the hub writes its task table through a TaskStore so a hub restart loses
 * no task it has accepted. Saves are coalesced: one write in flight, later changes ride on
 * the next, and `durable()` resolves once everything changed so far is on disk.
 */
import type { Logger } from '../shared/log.ts'
import type { TaskStatus } from './tasks.ts'

export interface StoredTask {
  task_id: string
  status: TaskStatus
  input: unknown
  /** The agent the task was pinned to at creation, if any. */
  pinned: string | null
  /** The agent running it now, or that ran it last. */
  agent_id: string | null
  attempts: number
  result: unknown
  error: string | null
  timeout_ms: number
  created_at: number
  updated_at: number
}

/**
 * Where the task table lives: the seam the core depends on. Today's are a file (each runtime
 * entry supplies its file access) and memory; a cluster's would be a database.
 */
export interface TaskStore {
  load(): Promise<StoredTask[]>
  /** Resolves once the table is stored; rejects when it could not be (the Persister reports it). */
  save(tasks: StoredTask[]): Promise<void>
}

/** A TaskStore in memory: a hub built on it again loads what the last one saved. */
export function createMemoryTaskStore(): TaskStore {
  let table: StoredTask[] = []
  return {
    load: async () => structuredClone(table),
    save: async (tasks) => {
      table = structuredClone(tasks)
    },
  }
}

/** Runtime file access a file-backed store needs. */
export interface StateFiles {
  read(path: string): Promise<string | null>
  /** Temporary file, fsync, rename: a reader sees the old file or the new, never half. */
  writeAtomic(path: string, text: string): Promise<void>
}

/** A TaskStore in one JSON file. A corrupt file is reported and ignored, never a crash. */
export function createFileTaskStore(path: string, files: StateFiles, log: Logger): TaskStore {
  return {
    async load() {
      const text = await files.read(path)
      if (text === null) return []
      try {
        const data = JSON.parse(text) as { version?: number; tasks?: StoredTask[] }
        if (data.version === 1 && Array.isArray(data.tasks)) return data.tasks
      } catch {
        // Reported below: a torn file cannot come from writeAtomic, only from outside.
      }
      log.error('task file is unreadable; starting with no tasks', { path })
      return []
    },
    save(tasks) {
      return files.writeAtomic(path, JSON.stringify({ version: 1, tasks }))
    },
  }
}

/** Coalesces saves of a snapshot taken at write time. */
export class Persister {
  private changed = 0
  private saved = 0
  private running = false
  private waiters: Array<{ version: number; resolve: () => void }> = []

  constructor(
    private readonly store: TaskStore | null,
    private readonly snapshot: () => StoredTask[],
    private readonly log: Logger,
  ) {}

  /** Marks the table changed and schedules a save. */
  touch(): void {
    if (!this.store) return
    this.changed++
    if (this.running) return
    this.running = true
    // After the current synchronous step, so the snapshot holds all of it.
    queueMicrotask(() => void this.run())
  }

  /** Resolves once every change made before this call is saved (at once without a store). */
  durable(): Promise<void> {
    if (!this.store || this.saved >= this.changed) return Promise.resolve()
    const version = this.changed
    return new Promise((resolve) => this.waiters.push({ version, resolve }))
  }

  private async run(): Promise<void> {
    while (this.saved < this.changed) {
      const version = this.changed
      try {
        await this.store!.save(this.snapshot())
      } catch (err) {
        // Keep serving from memory; the next change tries again.
        this.log.error('could not save tasks', { error: String(err) })
      }
      this.saved = version
      const ready = this.waiters.filter((w) => w.version <= version)
      this.waiters = this.waiters.filter((w) => w.version > version)
      for (const w of ready) w.resolve()
    }
    this.running = false
  }
}
