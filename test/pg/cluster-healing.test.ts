/**
 * Healing's shared state in cluster mode: the paused flag set on one hub holds on every hub
 * (each reads it from the rows), and an action one hub's healing takes shows in the history that
 * every hub answers.
 */
import { describe, expect, it } from 'vitest'
import type { TestDatabase } from '../../support/test-database.ts'
import { agentOn, useTwoClusterHubs, type TestHub } from '../../support/cluster-hubs.ts'
import { waitFor } from '../../support/wait.ts'

let db: TestDatabase
let a: TestHub
let b: TestHub

const sockets = useTwoClusterHubs(['hl-a', 'hl-b'], (hubs) => ({ db, a, b } = hubs))

describe('healing in the cluster', () => {
  it('a pause asked of hub A holds on hub B, and a resume asked of B on A', async () => {
    const paused = await a.api('POST', '/healing/pause')
    expect(paused).toMatchObject({ status: 200, body: { paused: true } })
    expect((await b.api('GET', '/healing')).body).toMatchObject({ paused: true })
    expect((await b.api('POST', '/healing/resume')).body).toMatchObject({ paused: false })
    expect((await a.api('GET', '/healing')).body).toMatchObject({ paused: false })
    expect((await a.api('GET', '/healing')).body.policy).toEqual((await b.api('GET', '/healing')).body.policy)
  })

  it("an action hub B's healing takes is in the history every hub answers", async () => {
    const onB = await agentOn(b, 'h-1')
    sockets.push(onB)
    const task = (await a.api('POST', '/tasks', { input: {}, agent_id: 'h-1', timeout_ms: 300 })).body
    const assign = await onB.next('task_assign')
    onB.send({ type: 'task_accepted', task_id: assign.task_id })
    const restart = await onB.next('restart_sidecar', 10_000)
    expect(restart).toMatchObject({ reason: 'task_overdue' })
    const fromA = await waitFor(() => a.api('GET', '/healing'), (r) => r.body.actions.some((x: any) => x.restart_id === restart.restart_id), { what: 'the action on A' })
    const action = fromA.body.actions.find((x: any) => x.restart_id === restart.restart_id)
    expect(action).toMatchObject({ agent_id: 'h-1', rule: 'task_overdue', action: 'restart', detail: expect.stringContaining(task.task_id) })
    // Decided by the one decider, whichever hub holds its lease, and carried out by B.
    const [state] = await db.connect({ max: 1 })`SELECT decider_hub_id FROM healing_state`
    expect(['hl-a', 'hl-b']).toContain(state.decider_hub_id)
    expect((await b.api('GET', '/healing')).body.actions).toEqual(fromA.body.actions)
  })
})
