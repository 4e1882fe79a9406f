/**
 * Durable tasks: the hub writes its task table through a TaskStore so a hub restart loses
 * no task it has accepted (persister.ts decides when). Every entry is validated on load.
 */
import * as v from 'valibot'
import { AgentId } from '../shared/protocol.ts'
import type { Logger } from '../shared/log.ts'
import type { TaskStatus } from './tasks.ts'
import { Labels } from '../shared/labels.ts'
import { TASK_STATUSES } from './task-control/rules.ts'

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

/** What the task file needs on top: a corrupt one is moved aside. */
export interface TaskFiles extends StateFiles {
  rename(from: string, to: string): Promise<void>
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
const TaskFileSchema = v.object({ version: v.literal(1), tasks: v.array(v.unknown()) })

/**
 * A TaskStore in one JSON file. Never a crash at start: a file that is not a task table is
 * moved aside (`<path>.corrupt-<ms>`) and the hub starts empty; a table with some bad entries
 * keeps the good ones, and a copy of the whole file is set aside for the operator, since the
 * next save replaces it.
 */
export function createFileTaskStore(path: string, files: TaskFiles, log: Logger, now: () => number = Date.now): TaskStore {
  return {
    async load() {
      const text = await files.read(path)
      if (text === null) return []
      const aside = `${path}.corrupt-${now()}`
      let table: v.InferOutput<typeof TaskFileSchema> | null = null
      try {
        const parsed = v.safeParse(TaskFileSchema, JSON.parse(text))
        if (parsed.success) table = parsed.output
      } catch {
        // Not JSON: handled below with every other unreadable file.
      }
      if (!table) {
        await files.rename(path, aside)
        log.error('task file is corrupt; moved aside, starting with no tasks', { path, moved_to: aside, bytes: text.length })
        return []
      }
      const tasks: StoredTask[] = []
      const seen = new Set<string>()
      let dropped = 0
      for (const [index, entry] of table.tasks.entries()) {
        const parsed = v.safeParse(StoredTaskSchema, entry)
        if (parsed.success && !seen.has(parsed.output.task_id)) {
          seen.add(parsed.output.task_id)
          tasks.push(parsed.output)
          continue
        }
        dropped++
        // The first few named; the copy set aside below holds every one of them.
        if (dropped <= 10) {
          const issue = parsed.success ? 'duplicate task_id' : describeIssue(parsed.issues[0])
          log.error('task entry is invalid; dropped', { path, index, issue })
        }
      }
      if (dropped > 0) {
        await files.writeAtomic(aside, text)
        log.error('task file had invalid entries; a copy is set aside', { path, copy: aside, dropped, kept: tasks.length })
      }
      return tasks
    },
    save(tasks) {
      return files.writeAtomic(path, JSON.stringify({ version: 1, tasks }))
    },
  }
}

function describeIssue(issue: v.BaseIssue<unknown>): string {
  const where = issue.path?.map((p) => String(p.key)).join('.') ?? '(entry)'
  return `${where}: ${issue.message}`.slice(0, 200)
}
