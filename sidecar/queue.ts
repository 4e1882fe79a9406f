/**
 * The sidecar's crash-safe task state: the one active task, written atomically (temporary
 * file, fsync, rename, fsync of the directory) before it is accepted, and kept with its
 * outcome until the hub acknowledges it. A corrupt file is set aside, never a crash loop.
 */
import { mkdir, readFile, rename } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Logger } from '../shared/log.ts'
import type { TaskOutcome } from '../shared/protocol.ts'
import { writeFileAtomic } from '../shared/node/files.ts'

export interface ActiveTask {
  task_id: string
  input: unknown
  timeout_ms: number
  accepted_at: number
  /** Null while it runs; set once it ended, until the hub acknowledges it. */
  outcome: TaskOutcome | null
}

interface QueueFile {
  version: 1
  active: ActiveTask | null
}

export class TaskQueue {
  private writes: Promise<void> = Promise.resolve()
  /** A begin() is writing: busy already, though `active` is set only once it is on disk. */
  private beginning = false

  private constructor(readonly path: string, public active: ActiveTask | null) {}

  /** Loads the queue file; a missing one is empty, a corrupt one is renamed aside and reported. */
  static async open(path: string, log: Logger, now: () => number = Date.now): Promise<TaskQueue> {
    await mkdir(dirname(path), { recursive: true })
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new TaskQueue(path, null)
      throw err
    }
    const parsed = parseQueueFile(text)
    if (parsed) return new TaskQueue(path, parsed.active)
    const aside = `${path}.corrupt-${now()}`
    await rename(path, aside)
    log.error('queue file is corrupt; set aside, starting empty', { path, moved_to: aside, bytes: text.length })
    return new TaskQueue(path, null)
  }

  /** True while a task is running or its outcome waits for the hub's acknowledgement. */
  get busy(): boolean {
    return this.active !== null || this.beginning
  }

  get running(): boolean {
    return this.active !== null && this.active.outcome === null
  }

  /**
   * Takes a task, on disk first: when the write fails this throws and nothing changed, so
   * the sidecar can refuse the task and stay free.
   */
  async begin(task: Omit<ActiveTask, 'outcome'>): Promise<void> {
    if (this.busy) throw new Error('the queue already holds a task')
    const next: ActiveTask = { ...task, outcome: null }
    this.beginning = true
    try {
      await this.save(next)
      this.active = next
    } finally {
      this.beginning = false
    }
  }

  /**
   * Records the outcome, in memory at once (it is sent and resent from there) and on disk.
   * If the write fails this throws; a crash before the ack then runs the task again.
   */
  async finish(outcome: TaskOutcome): Promise<void> {
    if (!this.active) return
    this.active = { ...this.active, outcome }
    await this.save(this.active)
  }

  /** Forgets the acknowledged task; should the write fail, the file's copy is resent and acknowledged again. */
  async clear(): Promise<void> {
    this.active = null
    await this.save(null)
  }

  /** Writes are serialized, so the file always holds the latest state. */
  private save(active: ActiveTask | null): Promise<void> {
    const snapshot: QueueFile = { version: 1, active }
    // A failed write is reported to its caller and does not block the next one.
    this.writes = this.writes.catch(() => {}).then(() => writeFileAtomic(this.path, JSON.stringify(snapshot)))
    return this.writes
  }
}

export function parseQueueFile(text: string): QueueFile | null {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return null
  }
  if (typeof data !== 'object' || data === null) return null
  const file = data as Partial<QueueFile>
  if (file.version !== 1) return null
  const active = file.active
  if (active === null) return { version: 1, active: null }
  if (typeof active !== 'object' || active === undefined || typeof active.task_id !== 'string' ||
    typeof active.timeout_ms !== 'number' || !('outcome' in active)) return null
  return { version: 1, active }
}
