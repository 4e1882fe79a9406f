/**
 * One in-process hub on fake timers for the deadline tests (test/unit/hub-timers*.test.ts):
 * `useTimerHub()` registers the hooks that build it before each test and close it after; `hub`
 * is the current one. Agents join through the fleet's identify path with a recording Peer (the
 * socket layer's seam).
 */
import { afterEach, beforeEach, vi } from 'vitest'
import { createTestHub, type OneHub, } from './in-process-hub.ts'
import type { HubOptions } from '../hub/config/hub-options.ts'
import type { Peer } from '../hub/agents/fleet.ts'
import type { HubMessage } from '../shared/protocol.ts'
import { silentLogger } from '../shared/log.ts'
import { SECOND } from '../shared/time.ts'

export let hub: OneHub

const DEADLINES = { secret: 's'.repeat(40), log: silentLogger, acceptTimeoutMs: 5 * SECOND, taskGraceMs: 20 * SECOND, restartTimeoutMs: 60 * SECOND }

export function useTimerHub(): void {
  beforeEach(() => {
    vi.useFakeTimers()
    hub = createTestHub(DEADLINES)
  })
  afterEach(() => {
    hub.close()
    vi.useRealTimers()
  })
}

/** Closes this test's hub and builds another with these options instead (closed after the test). */
export function replaceHub(options: Omit<HubOptions, 'upgradeWebSocket' | 'secret' | 'log'>): OneHub {
  hub.close()
  hub = createTestHub({ secret: DEADLINES.secret, log: silentLogger, ...options })
  return hub
}

export function join(agentId: string, restart_count = 0, activeTaskId: string | null = null) {
  const sent: HubMessage[] = []
  const peer: Peer = { send: (m) => sent.push(m), close: () => {} }
  hub.fleet.identify(agentId, peer, {
    supervised: true, instance_id: `i-${restart_count}`,
    pm2_info: { name: agentId, pm_id: 0, pid: 100 + restart_count, status: 'online', uptime_ms: 0, restart_count, memory_bytes: 0 },
  })
  const rec = hub.fleet.get(agentId)!
  hub.tasks.identified(rec, activeTaskId)
  return { peer, sent, rec, assigned: () => sent.filter((m) => m.type === 'task_assign').map((m) => (m as { task_id: string }).task_id) }
}

export const flush = () => vi.advanceTimersByTimeAsync(0)

export async function createRollout(agentIds: string[]): Promise<string> {
  const created = await hub.rollouts.create({ reason: 'r', agent_ids: agentIds, max_unavailable: 1, mode: 'graceful', deadline_s: null })
  if (!created.ok) throw new Error(created.error)
  return created.rollout.rollout_id
}

export async function viewRollout(rolloutId: string) {
  const rollout = await hub.rollouts.view(rolloutId)
  if (!rollout) throw new Error(`no rollout ${rolloutId}`)
  return rollout
}
