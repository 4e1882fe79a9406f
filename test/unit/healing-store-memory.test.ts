/**
 * One hub's HealingStore (hub/healing/memory-healing-store.ts) through the one store suite
 * (support/healing-store-conformance.ts) that the cluster's runs too (test/pg/healing-store.test.ts),
 * over the real Fleet and its restart engine, as createHub builds them. What only it has (its
 * saves, the agent's last process) is test/unit/healing-memory-store.test.ts's and healing-restore's.
 */
import { afterEach } from 'vitest'
import { createFleetRestarts } from '../../hub/agents/fleet-restarts.ts'
import { ChangeFeed } from '../../hub/events/changes.ts'
import { MemoryHealingStore } from '../../hub/healing/memory-healing-store.ts'
import { silentLogger } from '../../shared/log.ts'
import { systemClock } from '../../shared/time.ts'
import { describeHealingStore } from '../../support/healing-store-conformance.ts'

const open: Array<() => void> = []
afterEach(() => {
  for (const close of open.splice(0)) close()
})

describeHealingStore('memory', {
  async fresh(settings) {
    let ids = 0
    const changes = new ChangeFeed((err) => { throw err })
    const { fleet, restarts } = createFleetRestarts({
      clock: systemClock, log: silentLogger, newId: () => `id-${++ids}`, changes, offlineTtlMs: 86_400_000, timeoutMs: 60_000,
    })
    open.push(() => {
      restarts.close()
      fleet.close()
    })
    const store = new MemoryHealingStore({ fleet, clock: systemClock, settings, rolloutRunning: () => false, changed() {}, durable: async () => {} })
    const peers = new Map<string, { send(): void; close(): void }>()
    return {
      store,
      async connect(agentId) {
        const peer = { send() {}, close() {} }
        peers.set(agentId, peer)
        const pm2Info = { name: `agentcom-${agentId}`, pm_id: 1, pid: 1000, status: 'online', uptime_ms: 1, restart_count: 0, memory_bytes: 1 }
        fleet.identify(agentId, peer as never, { pm2_info: pm2Info, supervised: true, instance_id: `i-${agentId}` })
        fleet.holding(fleet.get(agentId)!, null) // as the task owner does after an identify: it holds no task
      },
      async disconnect(agentId) {
        fleet.disconnect(fleet.get(agentId)!, peers.get(agentId) as never)
      },
    }
  },
})
