/**
 * One hub's AdminStore (admin-store.ts): its agents are the Fleet's records, healing's switch
 * the healing runtime's, all in this process's memory and saved to the data dir. A drain's or
 * resume's answer waits for the fleet state's save (hub/store/saved-answers.ts, around the
 * whole backend); tasks are the task owner's (hub/tasks/memory-task-admin.ts).
 */
import type { Fleet } from '../agents/fleet.ts'
import { pageAgents } from '../agents/agent-pages.ts'
import type { HealingRuntime } from '../healing/healing-runtime.ts'
import { hasLabels } from '../../shared/labels.ts'
import type { AdminStore } from './admin-store.ts'
import { recordView } from './views.ts'

export interface MemoryAdminStoreDeps {
  fleet: Fleet
  healing: Pick<HealingRuntime, 'view' | 'pause' | 'resume' | 'resumeAgent'>
  hubId: string
}

export function createMemoryAdminStore({ fleet, healing, hubId }: MemoryAdminStoreDeps): AdminStore {
  return {
    agent(agentId) {
      const rec = fleet.get(agentId)
      return rec ? recordView(rec, hubId) : null
    },
    async agents(query, labels) {
      const all = labels.length === 0 ? fleet.list() : fleet.list().filter((rec) => hasLabels(rec.labels, labels))
      const page = pageAgents(all, (rec) => fleet.status(rec), query)
      const agents = page.agents.map((rec) => recordView(rec, hubId))
      return page.next_cursor === undefined ? { agents } : { agents, next_cursor: page.next_cursor }
    },
    // A resume lifts a quarantine too: healing's action ends with it.
    setDrained: async (agentId, drained) => (drained ? fleet.drain(agentId) : healing.resumeAgent(agentId)) !== undefined,
    healing: () => healing.view(),
    pauseHealing: () => healing.pause(),
    resumeHealing: () => healing.resume(),
  }
}
