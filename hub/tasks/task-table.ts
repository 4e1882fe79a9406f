/**
 * One hub's task records and how they are kept: in memory (finished ones bounded by count
 * and bytes, see task-retention.ts) and in the store (saved honestly, see persister.ts). The
 * memory store (memory-task-queue-store.ts) decides every transition; this table only holds and saves.
 */
import type { Logger } from '../../shared/log.ts'
import type { StoredTask, TaskStore } from './task-store.ts'
import type { TaskChange } from './task-journal.ts'
import type { TaskRecord } from './task-options.ts'
import { Persister, type StorageHealth } from '../store/persister.ts'
import { FinishedTasks } from './task-retention.ts'
import { isFinished } from './rules.ts'

/** Finished tasks written to the store (all unfinished ones always are). */
const MAX_STORED_FINISHED = 1000

export interface TaskTableOptions {
  log: Logger
  now: () => number
  /** Finished tasks kept for GET; the oldest are forgotten past this (or past 64 MiB). */
  maxFinished: number
  store: TaskStore | null
  /** While saves fail, they are tried again this often. */
  storeRetryMs: number
  /** Finished tasks no longer kept (what goes with them, their output, goes too). */
  onForget?: (taskIds: string[]) => void
}

export class TaskTable {
  private readonly tasks = new Map<string, TaskRecord>()
  /** Each task's place in creation order (restored ones in the saved order): the list's cursor. */
  private readonly seqs = new Map<string, number>()
  private nextSeq = 1
  private readonly onForget: (taskIds: string[]) => void
  private readonly finished: FinishedTasks
  private readonly persister: Persister<Map<string, number>>
  /** Tasks changed since the save that last held them: id → the number of its latest change. */
  private readonly dirty = new Map<string, number>()
  private changeNo = 0
  /**
   * Finished tasks' JSON, made once when they retire (their size counts against the memory
   * bound) and written by the save that follows, unless the task changed again: id → the JSON
   * and the number of the change it holds. Emptied by each save.
   */
  private retiredJson = new Map<string, { json: string; n: number }>()
  private readonly saving: boolean

  constructor(opts: TaskTableOptions) {
    this.onForget = opts.onForget ?? (() => {})
    this.finished = new FinishedTasks(opts.maxFinished)
    const store = opts.store
    this.saving = store !== null
    // A save writes what changed since the last one that held it (the store's journal), or the
    // whole table for a store without one; a change made while it runs rides on the next.
    this.persister = new Persister(store && { save: (marks) => this.save(store, marks) }, () => new Map(this.dirty), {
      log: opts.log, now: opts.now, retryMs: opts.storeRetryMs,
    })
  }

  get(taskId: string): TaskRecord | undefined {
    return this.tasks.get(taskId)
  }

  get size(): number {
    return this.tasks.size
  }

  add(task: TaskRecord): void {
    this.tasks.set(task.task_id, task)
    this.seqs.set(task.task_id, this.nextSeq++)
    this.markChanged(task.task_id)
  }

  remove(taskId: string): void {
    this.tasks.delete(taskId)
    this.seqs.delete(taskId)
    this.markChanged(taskId)
  }

  /** A record changed: save it. */
  changed(task: TaskRecord): void {
    this.markChanged(task.task_id)
  }

  private markChanged(taskId: string): void {
    this.dirty.set(taskId, ++this.changeNo)
    this.persister.touch()
  }

  /** Stores the tasks `marks` names as they are now; each is clean after unless it changed again meanwhile. */
  private async save(store: TaskStore, marks: Map<string, number>): Promise<void> {
    // Every entry is a task in `marks` (it was dirty when it retired, and still is).
    const retiredJson = this.retiredJson
    this.retiredJson = new Map()
    if (store.saveChanges) {
      const changes: TaskChange[] = [...marks].map(([id, n]) => {
        const task = this.tasks.get(id)
        const retired = retiredJson.get(id)
        return !task ? { removed: id } : retired?.n === n ? { task, json: retired.json } : { task }
      })
      await store.saveChanges(changes, () => this.snapshot())
    } else {
      await store.save(this.snapshot())
    }
    for (const [id, n] of marks) if (this.dirty.get(id) === n) this.dirty.delete(id)
  }

  /** A task finished: kept for GET while it fits, then forgotten oldest first. */
  retire(task: TaskRecord): void {
    const json = JSON.stringify(task) ?? ''
    const n = this.dirty.get(task.task_id)
    if (this.saving && n !== undefined) this.retiredJson.set(task.task_id, { json, n })
    const evicted = this.finished.add(task.task_id, json)
    for (const id of evicted) {
      this.tasks.delete(id)
      this.seqs.delete(id)
    }
    if (evicted.length > 0) this.onForget(evicted)
  }

  /**
   * Forgets finished tasks past the newest `keep` (by when they finished), for good: a journal
   * entry each, so a restart does not bring them back. Returns how many went.
   */
  forgetFinishedBeyond(keep: number): number {
    const evicted = this.finished.trim(keep)
    for (const id of evicted) this.remove(id)
    if (evicted.length > 0) this.onForget(evicted)
    return evicted.length
  }

  /** The task's place in creation order (undefined: not held). */
  seqOf(taskId: string): number | undefined {
    return this.seqs.get(taskId)
  }

  /** Every task, newest first, with its sequence number. */
  *newestFirst(): Generator<{ seq: number; task: TaskRecord }> {
    const all = [...this.tasks.values()]
    for (let i = all.length - 1; i >= 0; i--) yield { seq: this.seqs.get(all[i].task_id)!, task: all[i] }
  }

  /** Resolves once every change so far is in the store; rejects when that save failed. */
  durable(): Promise<void> {
    return this.persister.durable()
  }

  get storage(): StorageHealth {
    return this.persister.health
  }

  private snapshot(): StoredTask[] {
    const out: StoredTask[] = []
    const keepFinished = new Set(this.finished.newest(MAX_STORED_FINISHED))
    for (const t of this.tasks.values()) {
      if (isFinished(t.status) && !keepFinished.has(t.task_id)) continue
      out.push(t)
    }
    return out
  }

  close(): void {
    this.persister.close()
  }
}

