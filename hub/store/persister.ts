/**
 * Honest saves of the task table (and of the fleet's state, hub/state/): coalesced (one write in flight, later changes ride on the
 * next), and never marked saved when the write failed. While saves fail, the table is
 * retried every `retryMs` on its own, so the hub is healthy again within about that long of
 * the disk coming back, with no new change needed.
 */
import type { Logger } from '../../shared/log.ts'
import type { StoredTask } from '../tasks/task-store.ts'

/** What `durable()` rejects with when the save that would have held the change failed. */
export class StorageUnavailable extends Error {
  constructor(cause: string, what = 'tasks') {
    super(`${what} could not be saved: ${cause}`)
    this.name = 'StorageUnavailable'
  }
}

export interface PersisterOptions {
  log: Logger
  now: () => number
  /** While saves fail, the next attempt comes this long after the last. */
  retryMs: number
  /** What is saved, for the log lines and errors. Default `tasks`. */
  what?: string
  /**
   * At least this long between the starts of two saves (changes meanwhile ride on the next).
   * Default 0: at once, as the task table needs (its answers wait for the save).
   */
  minIntervalMs?: number
}

/** How the store is doing: `failing_since` is null while the last save succeeded. */
export interface StorageHealth {
  failing_since: number | null
  /** Failed attempts in the current run of failures. */
  failed_saves: number
}

/** Where a snapshot goes: TaskStore for the task table. */
export interface SnapshotStore<T> {
  save(snapshot: T): Promise<void>
}

export class Persister<T = StoredTask[]> {
  private changed = 0
  private saved = 0
  private running = false
  private waiters: Array<{ version: number; resolve: () => void; reject: (err: Error) => void }> = []
  private retryTimer: ReturnType<typeof setTimeout> | null = null
  private failingSince: number | null = null
  private failures = 0
  private closed = false
  private lastStartAt = -Infinity
  private spacingTimer: ReturnType<typeof setTimeout> | null = null
  /** The next save starts without waiting out minIntervalMs: an answer waits for it. */
  private hurried = false

  constructor(
    private readonly store: SnapshotStore<T> | null,
    private readonly snapshot: () => T,
    private readonly opts: PersisterOptions,
  ) {}

  private get what(): string {
    return this.opts.what ?? 'tasks'
  }

  get health(): StorageHealth {
    return { failing_since: this.failingSince, failed_saves: this.failures }
  }

  /** Marks the table changed and starts a save (at once, even while waiting to retry). */
  touch(): void {
    if (!this.store || this.closed) return
    this.changed++
    if (this.running || this.spacingTimer) return
    this.running = true
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.retryTimer = null
    // After the current synchronous step, so the snapshot holds all of it.
    queueMicrotask(() => void this.run())
  }

  /** The next save (of the changes so far) starts without waiting out minIntervalMs. */
  hurry(): void {
    if (!this.store || this.closed) return
    this.hurried = true
    if (!this.spacingTimer) return
    clearTimeout(this.spacingTimer)
    this.spacingTimer = null
    this.running = true
    void this.run()
  }

  /**
   * Resolves once every change made before this call is saved (at once without a store);
   * rejects with StorageUnavailable when the save attempt that would have held it failed.
   */
  durable(): Promise<void> {
    if (!this.store || this.saved >= this.changed) return Promise.resolve()
    const version = this.changed
    return new Promise((resolve, reject) => this.waiters.push({ version, resolve, reject }))
  }

  private async run(): Promise<void> {
    while (this.saved < this.changed && !this.closed) {
      const wait = this.hurried ? 0 : this.lastStartAt + (this.opts.minIntervalMs ?? 0) - this.opts.now()
      this.hurried = false
      if (wait > 0) {
        this.running = false
        this.spacingTimer = setTimeout(() => {
          this.spacingTimer = null
          if (this.running || this.closed) return
          this.running = true
          void this.run()
        }, wait)
        return
      }
      this.lastStartAt = this.opts.now()
      const version = this.changed
      try {
        await this.store!.save(this.snapshot())
      } catch (err) {
        this.failed(String(err))
        return
      }
      if (this.failingSince !== null) {
        this.opts.log.info(`${this.what} saved again`, { failed_saves: this.failures })
        this.failingSince = null
        this.failures = 0
      }
      this.saved = version
      const ready = this.waiters.filter((w) => w.version <= version)
      this.waiters = this.waiters.filter((w) => w.version > version)
      for (const w of ready) w.resolve()
    }
    this.running = false
  }

  /** Nothing is marked saved; every waiter hears it now, and the table is tried again later. */
  private failed(error: string): void {
    this.failures++
    // One line when saves start failing (and one per minute of it at the default retry), not one a second.
    if (this.failingSince === null || this.failures % 60 === 0) {
      this.opts.log.error(`could not save ${this.what}`, { error, failed_saves: this.failures })
    }
    this.failingSince ??= this.opts.now()
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w.reject(new StorageUnavailable(error, this.what))
    this.running = false
    if (this.closed) return
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      if (this.running || this.closed) return
      this.running = true
      void this.run()
    }, this.opts.retryMs)
  }

  close(): void {
    this.closed = true
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.retryTimer = null
    if (this.spacingTimer) clearTimeout(this.spacingTimer)
    this.spacingTimer = null
  }
}
