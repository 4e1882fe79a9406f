/**
 * The steady stream a chaos run puts through the fleet, and what it watches: tasks to either
 * hub (accepted only on 201), a rollout now and then, and once a second a look at the agents,
 * the running rollouts and healing, all recorded in the history.
 */
import type { Fleet } from './fleet.ts'
import { HEAL_MAX_CONCURRENT } from './fleet.ts'
import type { History } from './history.ts'
import { between, type Random } from './prng.ts'

const TASK_EVERY_MS = 500
const ROLLOUT_EVERY_MS = 30_000
const LOOK_EVERY_MS = 1000
const IN_FLIGHT = new Set(['commanded', 'deferred', 'restarting'])

export interface Load {
  accepted: Set<string>
  rollouts: Map<string, { agent_ids: string[]; running: boolean }>
  /**
   * Stops asking, resolving once the request in flight has its answer (a task it creates is in
   * `accepted` before settling starts); the looks go on until `stopLooking`.
   */
  stopAsking(): Promise<void>
  stopLooking(): Promise<void>
}

export function startLoad(fleet: Fleet, history: History, random: Random): Load {
  const accepted = new Set<string>()
  const rollouts = new Map<string, { agent_ids: string[]; running: boolean }>()
  let asking = true
  let looking = true

  const api = async (method: string, path: string, body?: unknown) => {
    const hub = fleet.hub()
    if (!hub) return null
    return hub.api(method, path, body).catch(() => null)
  }

  const tasks = (async () => {
    let lastRollout = 0
    while (asking) {
      const res = await api('POST', '/api/admin/tasks', { input: { sleep_ms: between(random, 100, 3000) } })
      if (res?.status === 201) {
        accepted.add(res.body.task_id)
        history.add({ t: history.now(), type: 'task_accepted', task_id: res.body.task_id })
      }
      if (history.now() - lastRollout > ROLLOUT_EVERY_MS) {
        lastRollout = history.now()
        const agentIds = fleet.sidecars.filter(() => random() < 0.5).slice(0, 4)
        const maxUnavailable = between(random, 1, 2)
        const created = agentIds.length > 0 ? await api('POST', '/api/admin/rollouts', { agent_ids: agentIds, max_unavailable: maxUnavailable }) : null
        if (created?.status === 201) {
          rollouts.set(created.body.rollout_id, { agent_ids: agentIds, running: true })
          history.add({ t: history.now(), type: 'rollout_created', rollout_id: created.body.rollout_id, agent_ids: agentIds, max_unavailable: maxUnavailable })
        } else if (agentIds.length > 0 && (created === null || created.status >= 500)) {
          history.add({ t: history.now(), type: 'rollout_uncertain', agent_ids: agentIds })
        }
      }
      await fleet.sleep(TASK_EVERY_MS)
    }
  })()

  const looks = (async () => {
    while (looking) {
      await look()
      await fleet.sleep(LOOK_EVERY_MS)
    }
  })()

  async function look(): Promise<void> {
    const agents = await api('GET', '/api/admin/agents')
    if (agents?.status === 200) {
      const list = agents.body.agents as { agent_id: string; connected: boolean; quarantined: boolean }[]
      history.add({ t: history.now(), type: 'agents_sample', connected: list.filter((a) => a.connected).map((a) => a.agent_id), all: fleet.sidecars })
      // The run's own kills make crash loops, which healing quarantines (checked: invariants.ts).
      // Left so, the fleet would shrink for good and the queue grow past any settling.
      for (const a of list.filter((a) => a.quarantined)) {
        const resumed = await api('POST', `/api/admin/agents/${a.agent_id}/resume`)
        if (resumed?.status === 200) history.add({ t: history.now(), type: 'quarantine_resumed', agent_id: a.agent_id })
      }
    }
    for (const [id, rollout] of rollouts) {
      if (!rollout.running) continue
      const view = await api('GET', `/api/admin/rollouts/${id}`)
      if (view?.status !== 200) continue
      const down = (view.body.agents as { state: string }[]).filter((a) => IN_FLIGHT.has(a.state)).length
      history.add({ t: history.now(), type: 'rollout_sample', rollout_id: id, down, max_unavailable: view.body.max_unavailable })
      rollout.running = view.body.state === 'running'
    }
    const healing = await api('GET', '/api/admin/healing')
    if (healing?.status === 200) {
      const inFlight = (healing.body.actions as { action: string; state: string }[]).filter((a) => a.action === 'restart' && IN_FLIGHT.has(a.state)).length
      history.add({ t: history.now(), type: 'healing_sample', in_flight: inFlight, max_concurrent: HEAL_MAX_CONCURRENT })
    }
  }

  return {
    accepted, rollouts,
    async stopAsking() {
      asking = false
      await tasks
    },
    async stopLooking() {
      await tasks
      looking = false
      await looks
    },
  }
}
