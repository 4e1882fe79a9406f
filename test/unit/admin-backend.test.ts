/**
 * The one admin backend (hub/api/admin.ts) over a store of named operations: what it adds to
 * them is the same on either store: a task's defaults filled in, views made by views.ts, every
 * answer run under the store's `bounded` (a cluster's deadline), and an agent answered at once
 * when the store answers at once (one hub: an admin GET answered in the turn it arrived in).
 * The store and the task answers here record the operations asked of them.
 */
import { describe, expect, it } from 'vitest'
import { createAdmin } from '../../hub/api/admin.ts'
import type { AdminStore } from '../../hub/api/admin-store.ts'
import type { NewTask, TaskAdmin } from '../../hub/tasks/task-admin.ts'
import { agentView, type AgentFacts, type TaskFacts } from '../../hub/api/views.ts'
import type { RolloutEngine } from '../../hub/rollouts/engine.ts'

const FACTS: AgentFacts = {
  agent_id: 'a-1', connected_at: 1, last_seen: 2, pm2_info: null, version: '1.0.0', host: null, supervised: true,
  drained: false, quarantined: false, labels: ['gpu'], task_id: 't-1', stats: null, restart: null,
}

function taskOf(task: Partial<NewTask>): TaskFacts {
  return {
    task_id: 't-new', status: 'queued', input: task.input, agent_id: task.pinned ?? null, attempts: 0, result: null, error: null,
    timeout_ms: task.timeout_ms!, ...task.extras!, retried: 0, run_after: null, created_at: 10, updated_at: 10,
    // Only the view's fields are shown: a record's own (pinned, deadlines) are not.
    ...({ pinned: task.pinned, deadline_at: 99 } as object),
  }
}

function recordingStore(bounded?: AdminStore['bounded']) {
  const inserted: unknown[] = []
  const store: AdminStore = {
    agent: (agentId) => (agentId === 'a-1' ? agentView(FACTS, true, 'hub-x') : null),
    agents: async () => ({ agents: [] }),
    setDrained: async (agentId) => agentId === 'a-1',
    healing: async () => ({ paused: false }) as never,
    pauseHealing: async () => ({ paused: true }) as never,
    resumeHealing: async () => ({ paused: false }) as never,
    bounded,
  }
  const tasks: TaskAdmin = {
    insert: async (task) => (inserted.push(task), taskOf(task)),
    insertForAll: async (task) => (inserted.push(task), [taskOf({ ...task, pinned: 'a-1' })]),
    get: async () => null,
    list: async () => ({ tasks: [], next_cursor: null }),
    cancel: async () => ({ ok: false, error: 'task_not_found' }),
  }
  return { store, tasks, inserted }
}

const engines = { restarts: { command: async () => ({ ok: false as const, error: 'agent_not_connected' as const }) }, rollouts: {} as RolloutEngine }

describe('the admin backend over a store', () => {
  it('answers an agent at once when its store does, made by the one view function', () => {
    const admin = createAdmin({ ...recordingStore(), ...engines, defaultTimeoutMs: 5000 })
    const answer = admin.getAgent('a-1')
    expect(answer).not.toBeInstanceOf(Promise)
    expect(answer).toEqual({
      agent_id: 'a-1', connected: true, status: 'working', connected_at: 1, last_seen: 2, pm2_info: null, version: '1.0.0', host: null,
      supervised: true, drained: false, quarantined: false, labels: ['gpu'], task_id: 't-1', stats: null, restart: null, hub_id: 'hub-x',
    })
    expect(admin.getAgent('nobody')).toBeNull()
  })

  it('fills in a task\'s defaults before the store inserts it, and answers its view', async () => {
    const { store, tasks, inserted } = recordingStore()
    const admin = createAdmin({ store, tasks, ...engines, defaultTimeoutMs: 5000 })
    const view = await admin.createTask({ n: 1 }, 'a-1', undefined, { labels: undefined, retries: 2 })
    expect(inserted).toEqual([{ input: { n: 1 }, pinned: 'a-1', timeout_ms: 5000, extras: { labels: [], retries: 2, retry_delay_ms: 1000 } }])
    expect(view).toEqual({
      task_id: 't-new', status: 'queued', input: { n: 1 }, agent_id: 'a-1', attempts: 0, result: null, error: null, timeout_ms: 5000,
      labels: [], retries: 2, retry_delay_ms: 1000, retried: 0, run_after: null, created_at: 10, updated_at: 10,
    })
    await admin.createTasksForAll('x', 700, { labels: ['gpu'] })
    expect(inserted[1]).toEqual({ input: 'x', timeout_ms: 700, extras: { labels: ['gpu'], retries: 0, retry_delay_ms: 1000 } })
  })

  it('runs every answer that waits for the store under its bound', async () => {
    const runs: number[] = []
    const { store, tasks } = recordingStore(async (work) => (runs.push(1), work()))
    const admin = createAdmin({ store, tasks, ...engines, defaultTimeoutMs: 5000 })
    expect(await admin.drain('a-1')).toMatchObject({ agent_id: 'a-1' })
    expect(await admin.resume('ghost')).toBeNull()
    expect(await admin.restart('a-1', { reason: 'r', mode: 'graceful', deadline_s: null })).toEqual({ ok: false, error: 'agent_not_connected' })
    expect(await admin.cancelTask('t-1')).toEqual({ ok: false, error: 'task_not_found' })
    expect(await admin.getTask('t-1')).toBeNull()
    expect(await admin.listTasks({ limit: 10 } as never)).toEqual({ tasks: [], next_cursor: null })
    expect(await admin.pauseHealing()).toEqual({ paused: true })
    expect(runs).toHaveLength(7)
  })
})
