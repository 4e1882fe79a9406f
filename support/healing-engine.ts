/**
 * One hub's healing engine in a test: the real Fleet and change feed, and the healing runtime (the
 * decider over the MemoryHealingStore, hub/healing/healing-runtime.ts and local-healing.ts) on a test clock, with the
 * fleet's agents on recording peers. Agents join, report memory, crash, take and obey restarts
 * as the socket layer would tell the fleet; alerts are collected. Healing's steps are
 * asynchronous: `settle()` lets them run to their end. For healing-engine*.test.ts.
 */
import { afterEach } from 'vitest'
import type { SavedAgent } from '../hub/agents/fleet.ts'
import { createFleetRestarts } from '../hub/agents/fleet-restarts.ts'
import { ChangeFeed } from '../hub/events/changes.ts'
import { createHubHealing } from '../hub/healing/healing-runtime.ts'
import { resolveHealingSettings } from '../hub/healing/healing-settings.ts'
import type { HealingSettings } from '../hub/healing/healing-settings.ts'
import type { Alert } from '../hub/alerts/alerts.ts'
import type { SavedHealing } from '../hub/healing/healing-policy.ts'
import { silentLogger } from '../shared/log.ts'

export const MB = 1024 * 1024
export const S = 1000
export const T0 = 1_700_000_000_000

const open: Array<() => void> = []
afterEach(() => {
  for (const close of open.splice(0)) close()
})

/** Lets healing's asynchronous steps (a request filed, a decider step, its holds) run to their end. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
}

export interface EngineOptions {
  settings?: Partial<HealingSettings>
  clock?: { t: number; now(): number }
  /** What a previous hub saved (restored before any agent joins, as at a hub's start: the fleet's agents, then healing). */
  saved?: { healing: SavedHealing; agents: SavedAgent[] }
  offlineTtlMs?: number
}

export function healingEngine(o: EngineOptions = {}) {
  const clock: { t: number; now(): number } = o.clock ?? { t: T0, now: () => clock.t }
  let ids = 0
  const newId = () => `id-${++ids}`
  const changes = new ChangeFeed((err) => { throw err })
  const offlineTtlMs = o.offlineTtlMs ?? 86_400 * S
  // As createHub builds them (the one wiring): the restart engine over the memory store, reached by the Fleet.
  const fleetRestarts = createFleetRestarts({ clock, log: silentLogger, newId, changes, offlineTtlMs, timeoutMs: 60 * S })
  const fleet = fleetRestarts.fleet
  const restarts = fleetRestarts.restarts
  let rolloutRunning = false
  const alerts: Alert[] = []
  const { runtime: healing, local } = createHubHealing({
    fleet, clock, log: silentLogger, newId, changes, settings: resolveHealingSettings(o.settings), hubId: 'hub-test', offlineTtlMs,
    alerts: { send: (alert) => void alerts.push(alert), pending: 0, close() {} },
    deliverRestart: (id) => restarts.deliver(id),
    rolloutRunning: () => rolloutRunning, saver: () => null,
  })
  open.push(() => {
    local!.close()
    healing.close()
    restarts.close()
    fleet.close()
  })
  if (o.saved) {
    fleet.restore(o.saved.agents)
    local!.restore(o.saved.healing)
  }
  const pm2 = new Map<string, { restart_count: number; pid: number }>()
  const peers = new Map<string, { send(): void; close(): void }>()

  function identify(agentId: string, supervised: boolean): void {
    const peer = { send() {}, close() {} }
    peers.set(agentId, peer)
    const p = pm2.get(agentId)!
    const pm2Info = supervised
      ? { name: `agentcom-${agentId}`, pm_id: 1, pid: p.pid, status: 'online', uptime_ms: 1, restart_count: p.restart_count, memory_bytes: 1 }
      : null
    fleet.identify(agentId, peer as never, { pm2_info: pm2Info, supervised, instance_id: `i-${agentId}` })
    fleet.holding(fleet.get(agentId)!, null) // as the task board does after an identify: it holds no task
  }

  const engine = {
    clock, fleet, healing, local: local!, alerts, changes, settle,
    advance(seconds: number) {
      clock.t += seconds * S
    },
    /** The agent identifies, as pm2 process `restart_count`/`pid` (the first identify is the baseline). */
    async join(agentId: string, opts: { supervised?: boolean; restartCount?: number; pid?: number } = {}) {
      pm2.set(agentId, { restart_count: opts.restartCount ?? 0, pid: opts.pid ?? 1000 })
      identify(agentId, opts.supervised ?? true)
      await settle()
    },
    /** pm2 started the process again (`times` restarts) and it identified: a crash, unless the hub had commanded a restart. */
    async restarted(agentId: string, times = 1) {
      const p = pm2.get(agentId)!
      p.restart_count += times
      p.pid += 1
      identify(agentId, true)
      await settle()
    },
    /** The same process reconnects. */
    async reconnect(agentId: string) {
      identify(agentId, true)
      await settle()
    },
    async disconnect(agentId: string) {
      fleet.disconnect(fleet.get(agentId)!, peers.get(agentId) as never)
      await settle()
    },
    /** A stats report at `mb` MB. */
    async report(agentId: string, mb: number) {
      fleet.recordStats(fleet.get(agentId)!, { rss_bytes: mb * MB, heap_used_bytes: MB, event_loop_delay_ms: 0, uptime_ms: 1 })
      await settle()
    },
    /** Two reports above the limit (600 MB) in a row: what the memory rule needs. */
    async overTwice(agentId: string, mb = 600) {
      await engine.report(agentId, mb)
      await engine.report(agentId, mb)
    },
    async overdue(agentId: string, detail: string) {
      healing.taskOverdue(agentId, detail)
      await settle()
    },
    async setRollout(running: boolean) {
      rolloutRunning = running
      changes.publish({ type: 'rollout', rollout_id: 'ro-1' })
      await settle()
    },
    /** The agent's pending restart, if any (what healing commanded through the fleet). */
    restart(agentId: string) {
      const restart = fleet.get(agentId)?.restart
      return restart && (restart.state === 'completed' || restart.state === 'failed') ? null : restart ?? null
    },
    /** The agent obeys its pending restart: it comes back a new process, and the restart completes. */
    async obey(agentId: string) {
      if (!engine.restart(agentId)) throw new Error(`${agentId} has no restart pending`)
      await engine.restarted(agentId)
    },
    async actions() {
      return (await healing.view()).actions
    },
    /** What this hub saves (hub/store/fleet-saver.ts): its agents with a restart, and healing with each agent's watch. */
    saved(): { healing: SavedHealing; agents: SavedAgent[] } {
      const watches = [...pm2.keys()].flatMap((id) => local!.savedWatch(id) ?? [])
      const agents = fleet.list().filter((rec) => rec.restart).map(({ agent_id, supervised, pm2_info, last_seen, drained, quarantined, restart }) =>
        ({ agent_id, supervised, pm2_info, last_seen, drained, quarantined, restart }))
      return structuredClone({ healing: { ...local!.saved(), agents: watches }, agents })
    },
  }
  return engine
}

export type Engine = ReturnType<typeof healingEngine>
