/**
 * What PostgreSQL's jsonb cannot hold (a \u0000, a lone surrogate) in a task's result: stored with
 * U+FFFD in its place and acknowledged, as one hub stores it (hub/outcome-text.ts), instead of
 * the save being retried forever.
 */
import { describe, expect, it } from 'vitest'
import { agentOn, useTwoClusterHubs, type TestHub } from '../../support/cluster-hubs.ts'
import { waitFor } from '../../support/wait.ts'

let a: TestHub
const sockets = useTwoClusterHubs(['jr-a', 'jr-b'], (hubs) => ({ a } = hubs))

describe('results jsonb refuses', () => {
  it.each([['a \\u0000', { s: 'x\u0000y' }], ['a lone surrogate', { s: 'x\ud800y' }]])('store %s as U+FFFD, as one hub does', async (_, result) => {
    const agent = await agentOn(a, 'jr-1')
    sockets.push(agent)
    const taskId = (await a.api('POST', '/tasks', { input: 1, agent_id: 'jr-1' })).body.task_id
    await agent.next('task_assign')
    agent.send({ type: 'task_accepted', task_id: taskId })
    agent.send({ type: 'task_complete', task_id: taskId, result })
    expect(await agent.next('task_ack')).toEqual({ type: 'task_ack', task_id: taskId })
    const task = await waitFor(() => a.api('GET', `/tasks/${taskId}`), (r) => r.body.status === 'completed', { what: 'completed' })
    expect(task.body).toMatchObject({ result: { s: 'x\uFFFDy' }, error: null })
  })
})
