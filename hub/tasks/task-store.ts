/**
 * Durable tasks: the hub writes its task table through a TaskStore so a hub restart loses
 * no task it has accepted (persister.ts decides when). Every entry is validated on load.
 */
import * as v from 'valibot'
import { AgentId } from '../../shared/protocol.ts'
import type { Logger } from '../../shared/log.ts'
import { Labels } from '../../shared/labels.ts'
import { TASK_STATUSES, type TaskStatus } from './rules.ts'
import { applyTaskEntry, journalLines, type TaskChange } from './task-journal.ts'
import { JournaledFile, describeIssue } from '../store/journaled-file.ts'
import type { TaskFiles } from '../store/state-files.ts'

// Kept here for the modules that import them from here.
export type { StateFiles, TaskFiles } from '../store/state-files.ts'

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
  /** When it was last given to an agent: the hub's deadline on it runs from here. */
  assigned_at: number | null
  /** Task control (task-control/rules.ts): labels wanted, retries allowed and used; absent: the defaults. */
  labels?: string[]
  retries?: number
  retry_delay_ms?: number
  retried?: number
  /** A retry waits until then (epoch ms); null: may run now. */
  run_after?: number | null
}

/**
 * Where the task table lives: the seam the core depends on. Today's are a file (each runtime
 * entry supplies its file access) and memory; a cluster's would be a database.
 */
export interface TaskStore {
  load(): Promise<StoredTask[]>
  /** Resolves once the table is stored; rejects when it could not be (the Persister reports it). */
  save(tasks: StoredTask[]): Promise<void>
  /**
   * Stores what changed since the last save that resolved (`all` gives the whole table, if the
   * store would rather write that). Absent: the table saves itself whole each time.
   */
  saveChanges?(changes: readonly TaskChange[], all: () => StoredTask[]): Promise<void>
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

const StoredTaskSchema = v.object({
  task_id: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  status: v.picklist(TASK_STATUSES),
  input: v.custom<unknown>((x) => x !== undefined, 'input is required'),
  pinned: v.nullable(AgentId),
  agent_id: v.nullable(AgentId),
  attempts: v.pipe(v.number(), v.integer(), v.minValue(0)),
  result: v.optional(v.unknown(), null),
  error: v.nullable(v.string()),
  timeout_ms: v.pipe(v.number(), v.integer(), v.minValue(1)),
  created_at: v.number(),
  updated_at: v.number(),
  assigned_at: v.optional(v.nullable(v.number()), null),
  // Absent in files written before task control: the defaults.
  labels: v.optional(Labels, () => []),
  retries: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
  retry_delay_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 1000),
  retried: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
  run_after: v.optional(v.nullable(v.number()), null),
})
const TaskFileSchema = v.object({
  version: v.literal(1),
  tasks: v.array(v.unknown()),
  /** The journal that follows this snapshot (task-journal.ts); absent in files of before. */
  generation: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
})

/**
 * A TaskStore in one JSON file and its journal (hub/store/journaled-file.ts, the records
 * task-journal.ts): a save appends what changed, and past a few times the snapshot's size in
 * journal, writes the whole table anew. Never a crash at start: a file that is not a task table
 * is moved aside (`<path>.corrupt-<ms>`) and the hub starts empty; a table with some bad entries
 * keeps the good ones, and a copy of the whole file is set aside for the operator, since the
 * next snapshot replaces it.
 */
export function createFileTaskStore(path: string, files: TaskFiles, log: Logger, now: () => number = Date.now): TaskStore {
  const file = new JournaledFile(path, files, log, 'task', now)
  const encode = (tasks: StoredTask[], generation: number) => JSON.stringify({ version: 1, generation, tasks })

  return {
    async load() {
      const dropped = { count: 0 }
      const validate = (entry: unknown, index: number | string): StoredTask | null => {
        const parsed = v.safeParse(StoredTaskSchema, entry)
        if (parsed.success) return parsed.output
        // The first few named; the copy set aside holds every one of them.
        if (++dropped.count <= 10) log.error('task entry is invalid; dropped', { path, index, issue: describeIssue(parsed.issues[0], '(entry)') })
        return null
      }
      const byId = await file.load<Map<string, StoredTask>>({
        corrupt: 'task file is corrupt; moved aside, starting with no tasks',
        async decode(json, text) {
          const parsed = v.safeParse(TaskFileSchema, json)
          if (!parsed.success) return { issue: describeIssue(parsed.issues[0], '(file)') }
          const byId = new Map<string, StoredTask>()
          for (const [index, entry] of parsed.output.tasks.entries()) {
            const task = validate(entry, index)
            if (task && byId.has(task.task_id)) {
              if (++dropped.count <= 10) log.error('task entry is invalid; dropped', { path, index, issue: 'duplicate task_id' })
            } else if (task) byId.set(task.task_id, task)
          }
          if (dropped.count > 0) {
            const aside = file.asidePath()
            await files.writeAtomic(aside, text)
            log.error('task file had invalid entries; a copy is set aside', { path, copy: aside, dropped: dropped.count, kept: byId.size })
          }
          return { state: byId, generation: parsed.output.generation }
        },
        apply: (byId, entry) => applyTaskEntry(byId, entry, (task) => validate(task, 'journal')),
      })
      return byId ? [...byId.values()] : []
    },
    save: (tasks) => file.writeSnapshot((generation) => encode(tasks, generation)),
    saveChanges: (changes, all) => file.save(() => journalLines(changes), (generation) => encode(all(), generation)),
  }
}
