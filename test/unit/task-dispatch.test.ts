/**
 * The single hub's dispatch queue (hub/tasks/task-dispatch.ts): order kept for the tasks that wait,
 * and a pass that stops looking once no agent is free, so its cost is what it hands out, not
 * the length of the queue.
 */
import { describe, expect, it } from 'vitest'
import { DispatchQueue } from '../../hub/tasks/task-dispatch.ts'
import type { AgentRecord, Fleet } from '../../hub/agents/fleet.ts'
import type { TaskRecord } from '../../hub/tasks/task-options.ts'

function setup(agentIds: string[]) {
  const available = new Set(agentIds)
  const agents = new Map(agentIds.map((id) => [id, { agent_id: id, labels: [] as string[] } as unknown as AgentRecord]))
  const fleet = { available, get: (id: string) => agents.get(id) } as unknown as Fleet
  const tasks = new Map<string, TaskRecord>()
  const assigned: [string, string][] = []
  let looked = 0
  const queue = new DispatchQueue({
    fleet, now: () => 0,
    task: (id) => {
      looked++
      return tasks.get(id)
    },
    assign: (task, rec) => {
      task.status = 'assigned'
      available.delete(rec.agent_id)
      assigned.push([task.task_id, rec.agent_id])
    },
  })
  const add = (taskId: string, pinned: string | null = null) => {
    tasks.set(taskId, { task_id: taskId, status: 'queued', pinned, labels: [], run_after: null } as unknown as TaskRecord)
    queue.push(taskId)
  }
  return { queue, add, available, assigned, looked: () => looked }
}

describe('DispatchQueue', () => {
  it('hands tasks out in order and stops looking once no agent is free', () => {
    const s = setup(['a', 'b'])
    for (let i = 0; i < 10_000; i++) s.add(`t${i}`)
    s.queue.dispatch()
    expect(s.assigned).toEqual([['t0', 'a'], ['t1', 'b']])
    expect(s.looked()).toBe(2)
    expect(s.queue.length).toBe(9998)
    s.available.add('a')
    s.queue.dispatch()
    expect(s.assigned.at(-1)).toEqual(['t2', 'a'])
    expect(s.looked()).toBe(3)
  })

  it('keeps the place of a task that cannot go yet, ahead of those behind it', () => {
    const s = setup(['a', 'busy-agent'])
    s.available.delete('busy-agent')
    s.add('t0', 'busy-agent')
    s.add('t1')
    s.add('t2')
    s.queue.dispatch()
    expect(s.assigned).toEqual([['t1', 'a']])
    s.queue.unshift('t3')
    s.add('t3')
    expect(s.queue.length).toBe(4)
    s.available.add('a')
    s.available.add('busy-agent')
    s.queue.dispatch()
    // t3 first (run again after an interruption), then t0 on its own agent; t2 waits behind.
    expect(s.assigned.slice(1)).toEqual([['t3', 'a'], ['t0', 'busy-agent']])
    expect(s.queue.length).toBe(2)
  })
})
