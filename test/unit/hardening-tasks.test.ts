/**
 * Hardening (v3), single hub: a task's outcome is accepted only from the agent the task was
 * last assigned to. An agent naming a task it was never given (queued, unpinned, or another's)
 * changes nothing. Agents join through the fleet's identify path with a recording Peer.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createTestHub, type OneHub } from '../../support/in-process-hub.ts'
import type { Peer } from '../../hub/agents/fleet.ts'
import type { HubMessage } from '../../shared/protocol.ts'
import { silentLogger } from '../../shared/log.ts'

let hub: OneHub
beforeEach(() => {
  vi.useFakeTimers()
  hub = createTestHub({ secret: 's'.repeat(40), log: silentLogger })
})
afterEach(() => {
  hub.close()
  vi.useRealTimers()
})

function join(agentId: string, activeTaskId: string | null = null) {
  const sent: HubMessage[] = []
  const peer: Peer = { send: (m) => sent.push(m), close: () => {} }
  hub.fleet.identify(agentId, peer, { supervised: true, instance_id: 'i', pm2_info: null })
  const rec = hub.fleet.get(agentId)!
  hub.tasks.identified(rec, activeTaskId)
  return { sent, rec }
}

const flush = () => vi.advanceTimersByTimeAsync(0)

describe('outcomes only from the agent a task was last assigned to', () => {
  it('ignores a complete for a queued, unpinned task from an agent that was never given it', async () => {
    const outsider = join('outsider')
    hub.fleet.drain('outsider') // takes no task, so the task stays queued
    const task = hub.tasks.create({ n: 1 }, null, undefined).task
    await flush()
    expect(task.status).toBe('queued')
    hub.tasks.finished(outsider.rec, task.task_id, { kind: 'complete', result: 'forged' })
    hub.tasks.accepted(outsider.rec, task.task_id)
    await flush()
    expect(task).toMatchObject({ status: 'queued', result: null, agent_id: null, attempts: 0 })
    // Acknowledged (so it is not resent) and told it is not its task.
    expect(outsider.sent.map((m) => m.type).sort()).toEqual(['task_ack', 'task_cancel'])
  })

  it('ignores another agent\'s complete for an assigned task, and takes the assignee\'s', async () => {
    const worker = join('worker')
    const task = hub.tasks.create({ n: 1 }, null, undefined).task
    await flush()
    expect(task).toMatchObject({ status: 'assigned', agent_id: 'worker' })
    const outsider = join('outsider')
    hub.tasks.finished(outsider.rec, task.task_id, { kind: 'failed', error: 'forged' })
    expect(task).toMatchObject({ status: 'assigned', error: null })
    hub.tasks.finished(worker.rec, task.task_id, { kind: 'complete', result: 42 })
    expect(task).toMatchObject({ status: 'completed', result: 42, agent_id: 'worker' })
  })

  it('takes the outcome of a task queued again from the agent it was last given to, and no other', async () => {
    const worker = join('worker')
    const task = hub.tasks.create({ n: 1 }, null, undefined).task
    await flush()
    hub.fleet.drain('worker')
    hub.tasks.interrupted(worker.rec, task.task_id, 'force restart')
    await flush()
    expect(task).toMatchObject({ status: 'queued', attempts: 1 })
    const outsider = join('outsider')
    hub.fleet.drain('outsider')
    hub.tasks.finished(outsider.rec, task.task_id, { kind: 'complete', result: 'forged' })
    expect(task.status).toBe('queued')
    // The last assignee's late report of that run still counts.
    hub.tasks.finished(worker.rec, task.task_id, { kind: 'complete', result: 'real' })
    expect(task).toMatchObject({ status: 'completed', result: 'real', agent_id: 'worker' })
  })

  it('does not let an agent claim at identify a queued task it was never given', async () => {
    const idle = join('idle')
    hub.fleet.drain('idle')
    const task = hub.tasks.create({ n: 1 }, null, undefined).task
    await flush()
    const claimer = join('claimer', task.task_id)
    expect(task).toMatchObject({ status: 'queued', agent_id: null })
    expect(claimer.sent).toContainEqual({ type: 'task_cancel', task_id: task.task_id })
    expect(idle.sent).toEqual([])
  })
})
