/**
 * One hub's EventViews (live-events.ts): the views of what changed, read from its memory in the
 * memory log's append order, so each is as new as the events before it. A thing gone by then
 * (an agent forgotten) has no event.
 */
import type { Change } from './changes.ts'
import type { NewEvent } from './event-log-store.ts'
import type { EventViews } from './live-events.ts'
import type { Fleet } from '../agents/fleet.ts'
import type { HubTaskOwner } from '../tasks/hub-task-owner.ts'
import type { RolloutRecord } from '../rollouts/rollout-store.ts'
import type { HealingAction } from '../healing/healing-history.ts'
import { recordView, rolloutView, taskView } from '../api/views.ts'

export interface MemoryViewsOptions {
  fleet: Fleet
  tasks: HubTaskOwner
  /** This hub's rollouts as they are now (hub/rollouts/memory-store.ts). */
  rollouts: { peek(rolloutId: string): RolloutRecord | undefined }
  /** This hub's id, the `hub_id` of the agents it holds. */
  hubId: string
  /** Where a `healing` change's action is read (`HealingAction`, shaped by the policy's history). */
  healing: { action(actionId: string): HealingAction | undefined }
}

export function memoryEventViews(o: MemoryViewsOptions): EventViews<void> {
  const view = (change: Change): NewEvent | null => {
    switch (change.type) {
      case 'agent': {
        const rec = o.fleet.get(change.agent_id)
        return rec ? { kind: 'agent', view: recordView(rec, o.hubId) } : null
      }
      case 'task': {
        const task = o.tasks.get(change.task_id)
        return task ? { kind: 'task', view: taskView(task) } : null
      }
      case 'rollout': {
        const rollout = o.rollouts.peek(change.rollout_id)
        return rollout ? { kind: 'rollout', view: rolloutView(rollout) } : null
      }
      case 'healing': {
        const action = o.healing.action(change.action_id)
        return action ? { kind: 'healing', view: action } : null
      }
    }
  }
  return { read: async (changes) => ({ collect: () => changes.map(view).filter((e) => e !== null) }) }
}
