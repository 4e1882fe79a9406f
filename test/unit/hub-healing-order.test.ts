/**
 * A hub's healing files and drops an agent's memory request in the order its stats reports came,
 * whatever order the store's writes would finish in on their own (two pooled connections in a
 * cluster): a drop (back under the limit) still running when the agent is above it again must not
 * delete the new request (cluster-healing-decider failed so in CI).
 */
import { describe, expect, it } from 'vitest'
import { HubHealing, type HubHealingDeps } from '../../hub/healing/hub-healing.ts'
import { ChangeFeed } from '../../hub/events/changes.ts'
import { resolveHealingSettings } from '../../hub/healing/healing-settings.ts'
import type { HealingStore } from '../../hub/healing/healing-store.ts'
import { createLogger } from '../../shared/log.ts'

const MB = 1024 * 1024

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => { resolve = r })
  return { promise, resolve }
}

describe('HubHealing request writes', () => {
  it('a memory request filed while the drop before it is still running is kept', async () => {
    const requests = new Set<string>()
    const dropping = deferred()
    const log: string[] = []
    // The drop's DELETE is slow (held until released), the filing's INSERT is quick.
    const store = {
      async dropMemoryRequest(agentId: string) {
        log.push('drop started')
        await dropping.promise
        requests.delete(agentId)
        log.push('dropped')
      },
      async fileRequest(agentId: string) {
        log.push('file started')
        const isNew = !requests.has(agentId)
        requests.add(agentId)
        return isNew
      },
    } as unknown as HealingStore
    let rss = 0
    const changes = new ChangeFeed()
    const healing = new HubHealing({
      store, changes, log: createLogger('test', () => {}), newId: () => 'x',
      nudge: () => {},
      fleet: { get: () => ({ stats: { rss_bytes: rss } }) } as unknown as HubHealingDeps['fleet'],
      holds: () => true,
      settings: resolveHealingSettings({ maxMemoryMb: 100 }),
      alerts: null,
    })
    const report = (mb: number) => {
      rss = mb * MB
      changes.publish({ type: 'agent', agent_id: 'a-1', stats: true })
    }
    report(150)
    report(150) // above twice: filed
    await expect.poll(() => requests.has('a-1')).toBe(true)
    report(50) // back under: the drop starts and hangs
    report(150)
    report(150) // above twice again: filed, after the drop
    dropping.resolve()
    await expect.poll(() => log.length).toBe(4)
    expect(log).toEqual(['file started', 'drop started', 'dropped', 'file started'])
    expect(requests.has('a-1')).toBe(true)
    healing.close()
  })
})
