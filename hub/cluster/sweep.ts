/**
 * What no single hub can be trusted to remember, checked on the database's clock by every hub
 * in turn (each step is a conditional update, so two hubs sweeping at once do it once): tasks
 * whose agent has been gone past the grace period are queued again, restarts of agents that
 * have been gone past the restart timeout fail, hubs long dead are forgotten, revoked tokens past
 * their expiry and finished tasks past the newest kept are deleted, rollouts are driven (and taken
 * over from a hub whose lease ran out), healing's decider steps (taken over likewise). What acts
 * on other hubs' lapses waits until this hub's lease is senior (lease.ts), so an outage every hub
 * shared is not taken for a hub gone. Also the catch-up a missed notification needs: held agents'
 * commands re-read, free agents offered queued work.
 */
import type { Logger } from '../../shared/log.ts'
import { startIntervalLoop } from '../../shared/interval-loop.ts'
import type { Sql } from '../pg/connect.ts'
import { failStaleRestarts } from '../pg/restarts.ts'
import { pruneHubs, touchHubAgents } from '../pg/presence-rows.ts'
import { pruneRevokedTokens } from '../pg/revocation-rows.ts'
import type { HubLease } from './lease.ts'
import type { ClusterPresence } from './presence.ts'
import type { TaskEngine } from '../tasks/task-engine.ts'
import type { RolloutEngine } from '../rollouts/engine.ts'
import { pruneHealingActions } from '../pg/healing-rows.ts'
import { pruneRollouts } from '../pg/rollout-rows.ts'

/** A hub whose lease ran out this long ago is deleted from `hubs` (hub ids are per process). */
const FORGET_HUBS_AFTER_MS = 3_600_000
/** Finished rollouts kept (the contract's bound in single mode, the same here). */
const KEEP_FINISHED_ROLLOUTS = 100
/** Healing actions kept (GET /api/admin/healing shows the newest 1000). */
const KEEP_HEALING_ACTIONS = 10_000

export interface SweepDeps {
  sql: Sql
  hubId: string
  lease: HubLease
  presence: ClusterPresence
  tasks: TaskEngine
  rollouts: Pick<RolloutEngine, 'tick'>
  /** The events stream: the hub's reader of the rows, and the rows' trim to their retention (hub/pg/pg-event-store.ts). */
  events: { catchUp(): Promise<void>; trim(): Promise<number> }
  /** Healing: the decider's step (and taking its lease), and this hub's holds of agents waiting for it. */
  healing: { tick(): Promise<void> }
  log: Logger
  graceMs: number
  restartTimeoutMs: number
  /** Finished tasks kept (one hub's AGENTCOM default, createHub's maxFinishedTasks). */
  keepFinishedTasks: number
  intervalMs: number
  /** A restart this sweep failed (timeout): counted here, once in the cluster (GET /metrics). */
  restartFailed?(restart: { restart_id: string; reason: string; rollout_id: string | null }): void
}

export function startSweep(d: SweepDeps): { run(): Promise<void>; stop(): void } {
  async function sweep(): Promise<void> {
    if (!d.lease.valid) return
    const { sql } = d
    // Acting on other hubs' lapses waits until every hub had its chance to renew (lease.ts).
    if (d.lease.senior) await sweepLapsed()
    // Tasks this hub dispatched whose agent, still here, never reported (the holding hub acts).
    for (const task of await d.tasks.store.overdue(d.graceMs)) await d.tasks.overdue(task, d.graceMs)
    await touchHubAgents(sql, d.hubId)
    await pruneRevokedTokens(sql)
    await pruneRollouts(sql, KEEP_FINISHED_ROLLOUTS)
    await d.events.trim()
    await pruneHealingActions(sql, KEEP_HEALING_ACTIONS)
    await d.tasks.store.prune(d.keepFinishedTasks)
    await d.presence.reconcile()
    await d.rollouts.tick()
    await d.healing.tick()
    await d.events.catchUp()
    d.tasks.nudge()
  }

  /** What the sweep does about agents gone from their hubs, and hubs gone. */
  async function sweepLapsed(): Promise<void> {
    const { sql } = d
    let requeued = 0
    for (const task of await d.tasks.store.orphaned(d.graceMs)) {
      const row = await d.tasks.store.requeue(task.task_id, task.agent_id!, true)
      if (row) {
        requeued++
        d.tasks.changed(task.task_id)
        d.log.warn('agent did not come back with its task', { task_id: task.task_id, agent_id: task.agent_id, status: row.status })
      }
    }
    if (requeued > 0) await d.tasks.announce()
    for (const restart of await failStaleRestarts(sql, d.restartTimeoutMs)) {
      d.log.info('restart failed', { restart_id: restart.restart_id, error: 'timeout' })
      d.restartFailed?.(restart)
    }
    await pruneHubs(sql, FORGET_HUBS_AFTER_MS)
  }

  const loop = startIntervalLoop(sweep, { intervalMs: d.intervalMs, onError: (err) => d.log.warn('cluster sweep failed', { error: String(err) }) })
  return { run: loop.run, stop: loop.stop }
}
