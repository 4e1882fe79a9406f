/**
 * Cluster mode's start and stop, for the runtime entries (hub/node.ts, hub/deno.ts): connect
 * to AGENTCOM_DATABASE_URL, migrate (under an advisory lock, so hubs may start together), take
 * this hub's lease and LISTEN. `store` and `attach` are what createHub takes as `store` and
 * `cluster`: the rows its owners are built over, and the wiring of the rest to the database and
 * the bus. Portable: postgres.js runs on both.
 */
import type { Logger } from '../../shared/log.ts'
import type { ClusterAttach, ClusterSeam } from '../cluster-seam.ts'
import type { HubStore } from '../config/hub-options.ts'
import { connectDatabase, type Sql } from '../pg/connect.ts'
import { migrate } from '../pg/migrate.ts'
import { ALL_HUBS, createPgBus, type BusMessage, type PgBus } from '../pg/notify-bus.ts'
import { hubIdHeldElsewhere, releaseLease } from '../pg/presence-rows.ts'
import { ConfigError } from '../../shared/settings.ts'
import { HubLease } from './lease.ts'
import { ClusterPresence } from './presence.ts'
import { TASK_CANCEL } from '../tasks/task-engine.ts'
import { PgAdminStore } from '../pg/pg-admin-store.ts'
import { startSweep } from './sweep.ts'
import { createClusterTasks } from './cluster-task-store.ts'
import { ClusterRevocations } from './cluster-revocations.ts'
import { createPgJoinUses } from '../pg/join-use-rows.ts'
import type { JoinUseStore } from '../enroll/join-uses.ts'
import { PgRolloutStore, ROLLOUT_NUDGE } from '../pg/pg-rollout-store.ts'
import { PgRestartStore, RESTART_NUDGE } from '../pg/pg-restart-store.ts'
import { clusterEventViews } from './cluster-events.ts'
import { PgEventLogStore } from '../pg/pg-event-store.ts'
import type { HealingRuntime } from '../healing/healing-runtime.ts'
import { HEALING_NUDGE, PgHealingStore } from '../pg/pg-healing-store.ts'
import { systemClock, type Clock } from '../../shared/time.ts'
import { createClusterFleetAlerts } from '../alerts/pg-fleet-alerts.ts'

/** The reasons healing's restarts carry (its decider follows their states). */
const HEALING_REASONS = new Set(['heal:memory', 'task_overdue'])

export interface ClusterRuntimeOptions {
  databaseUrl: string
  hubId: string
  leaseMs: number
  /** `node` or `deno`, recorded in `hubs.runtime`. */
  runtime: string
  log: Logger
  /** How often the sweep (grace, restart timeouts, catch-up) runs; default 1 s. */
  sweepMs?: number
  /** A client of the caller's instead of one opened on databaseUrl (tests). */
  sql?: Sql
  /** The clock revocations are stamped with (the hub's); default the system clock. */
  clock?: Clock
  /** Events kept for Last-Event-ID replay (createHub's eventBuffer). Default 1000. */
  eventBuffer?: number
}

export interface ClusterRuntime {
  hubId: string
  sql: Sql
  bus: PgBus
  lease: HubLease
  /** The hub's RevocationStore in cluster mode (createHub's `revocations`). */
  revocations: ClusterRevocations
  /** The hub's JoinUseStore in cluster mode (createHub's `joinUses`). */
  joinUses: JoinUseStore
  /** What createHub builds its owners over in cluster mode (its `store`): the rows. */
  store: HubStore
  attach: ClusterAttach
  /** The hub's healing, once attached (its decider decides while `isDecider`). */
  readonly healing: HealingRuntime | null
  /** Clean stop: the lease ends now and this hub's agents read as offline at once. */
  stop(): Promise<void>
}

export async function startClusterRuntime(o: ClusterRuntimeOptions): Promise<ClusterRuntime> {
  const applicationName = `agentcom ${o.hubId}`
  const sql = o.sql ?? connectDatabase(o.databaseUrl, { applicationName })
  // One hub id, one live process: two would share one lease and each act for the other's agents.
  if (!o.sql && await hubIdHeldElsewhere(sql, o.hubId, applicationName).catch(async (err) => {
    await sql.end({ timeout: 5 })
    throw err
  })) {
    await sql.end({ timeout: 5 })
    throw new ConfigError(`AGENTCOM_HUB_ID ${o.hubId} is held by another live hub`)
  }
  const lease = new HubLease({ sql, hubId: o.hubId, leaseMs: o.leaseMs, runtime: o.runtime, log: o.log })
  let onListen = () => {}
  let bus: PgBus
  let revocations: ClusterRevocations
  let eventStore: PgEventLogStore
  try {
    const migrated = await migrate(sql)
    if (migrated.applied.length > 0) o.log.info('cluster schema migrated', { applied: migrated.applied, version: migrated.version })
    await lease.start()
    bus = await createPgBus(sql, {
      hubId: o.hubId,
      onListen: () => onListen(),
      onHandlerError: (err) => o.log.error('cluster bus handler failed', { error: String(err) }),
      onInvalid: () => o.log.warn('ignored a foreign notification on the cluster channel'),
    })
    revocations = await ClusterRevocations.open({ sql, bus, clock: o.clock ?? systemClock, log: o.log })
    eventStore = await PgEventLogStore.open({ sql, bus, capacity: o.eventBuffer })
  } catch (err) {
    await lease.stop()
    if (!o.sql) await sql.end({ timeout: 5 })
    throw err
  }
  const restartStore = new PgRestartStore({ sql, bus, hubId: o.hubId })
  const clusterTasks = createClusterTasks({ sql, bus, lease, hubId: o.hubId })
  let seam: ClusterSeam | null = null
  let healingOf: HealingRuntime | null = null
  /** This hub's presence, made by the attach (createHub opens the admin store after it). */
  let presenceOf: ClusterPresence | null = null
  o.log.info('cluster joined', { hub_id: o.hubId, lease_ms: o.leaseMs })

  const attach: ClusterAttach = (local) => {
    // Restarts: the hub's one engine (hub/agents/restart-engine.ts) over `store.restarts`, the rows.
    const restarts = local.restarts
    const deliverRestart = (id: string) => restarts.deliver(id).catch((err) => local.log.warn('restart delivery failed', { restart_id: id, error: String(err) }))
    // Healing: the hub's one runtime over `store.healing`, the rows; stepped from the sweep and the bus.
    const healing = healingOf = local.healing
    const presence: ClusterPresence = presenceOf = new ClusterPresence({
      sql, bus, lease, hubId: o.hubId, fleet: local.fleet, changes: local.changes, log: local.log, newId: local.newId,
      deliverRestart: (id) => restarts.deliver(id), pendingRestart: (id) => restartStore.pending(id),
      resumeAgent: (id) => void local.fleet.resume(id),
      processSeen: (id, before, after) => healing.identified(id, before, after),
    })
    // The fleet's alerts (offline, recovered, rollout failed) go out from the decider's hub.
    const fleetAlerts = local.alerts && createClusterFleetAlerts({ sql, alerts: local.alerts, offlineMs: local.alertOfflineMs, log: local.log })
    // Tasks: the hub's one engine (hub/tasks/task-engine.ts) over `store.tasks`, the rows (cluster-task-store.ts).
    const tasks = local.tasks
    // Rollouts: the hub's one engine (hub/rollouts/engine.ts) over `store.rollouts`, the rows;
    // every hub hears a rollout move through the store, and steps its own from the bus and the sweep.
    const rollouts = local.rollouts
    // The events stream: the hub's one owner over `store.events`, the rows; caught up here after a re-LISTEN and each sweep.
    const events = { catchUp: () => local.events.catchUp(), trim: () => eventStore.trim() }
    const sweep = startSweep({
      sql, hubId: o.hubId, lease, presence, tasks, rollouts, events, log: local.log, graceMs: local.graceMs,
      healing: { tick: async () => {
        await healing.step()
        if (healing.isDecider) await fleetAlerts?.check()
      } },
      restartTimeoutMs: local.restartTimeoutMs, keepFinishedTasks: local.maxFinishedTasks,
      intervalMs: o.sweepMs ?? 1000,
      restartFailed: (restart) => {
        local.metrics?.restartChanged({ ...restart, state: 'failed' })
        // Its agent is held by no hub, whose fleet would publish it: this one does, for the events stream.
        void restartStore.get(restart.restart_id).then((found) => found && local.changes.publish({ type: 'agent', agent_id: found.agent_id }))
          .catch((err) => local.log.warn('could not read a failed restart', { restart_id: restart.restart_id, error: String(err) }))
      },
    })
    const handle = (message: BusMessage) => {
      const agentId = typeof message.agent_id === 'string' ? message.agent_id : null
      switch (message.kind) {
        case 'tasks':
          return tasks.nudge()
        case TASK_CANCEL:
          if (agentId && typeof message.task_id === 'string') tasks.cancelHere(agentId, message.task_id)
          return
        case RESTART_NUDGE:
          if (typeof message.restart_id === 'string') void deliverRestart(message.restart_id)
          return
        case 'drain':
        case 'resume':
          // Bus messages are hints: the agent's row says whether it is drained.
          if (agentId) void presence.applyDrainedFromRow(agentId).catch((err) => local.log.warn('could not read a drained flag', { error: String(err) }))
          return
        case HEALING_NUDGE:
          healing.nudged()
          return
        case ROLLOUT_NUDGE:
          if (typeof message.rollout_id === 'string') void rollouts.step(message.rollout_id)
          return
        case 'close_agent':
          if (agentId && typeof message.connection_id === 'string') {
            void presence.closeMoved(agentId, message.connection_id).catch((err) => local.log.warn('could not check a moved agent', { error: String(err) }))
          }
          return
      }
    }
    const unsubscribe = bus.subscribe(handle)
    // After a re-LISTEN, notifications may have been missed: catch up from rows.
    onListen = () => {
      void revocations.reload().catch((err) => local.log.warn('could not reload revocations', { error: String(err) }))
      void events.catchUp()
      void sweep.run()
    }
    seam = {
      admit: (agentId, peer, hello) => presence.admit(agentId, peer, hello),
      holds: (agentId) => presence.holds(agentId),
      // A move kept steps the restart's rollout on (its owner may be another hub) and wakes healing's decider.
      restartMoved(restart) {
        if (!restart.rollout_id) {
          // Healing's own nudge (its store's wakeDecider tells every hub); a lost one, the decider's sweep makes up for.
          if (HEALING_REASONS.has(restart.reason)) healing.nudge()
          return
        }
        void bus.publish(ALL_HUBS, { kind: ROLLOUT_NUDGE, rollout_id: restart.rollout_id })
          .catch((err) => local.log.warn('could not announce a restart move', { restart_id: restart.restart_id, error: String(err) }))
        local.changes.publish({ type: 'rollout', rollout_id: restart.rollout_id })
      },
      leave: (agentId, peer) => void presence.leave(agentId, peer).catch((err) => local.log.warn('could not release an agent', { agent_id: agentId, error: String(err) })),
      storage: () => lease.storage,
      close() {
        unsubscribe()
        sweep.stop()
        presence.close()
      },
    }
    return seam
  }

  return {
    hubId: o.hubId, sql, bus, lease, revocations, attach, joinUses: createPgJoinUses(sql),
    store: {
      restarts: restartStore, rollouts: new PgRolloutStore({ sql, bus, lease, hubId: o.hubId, leaseMs: o.leaseMs }),
      tasks: clusterTasks.open,
      // The admin answers' store, over the hub's healing runtime; a drain or resume of an agent held here is carried out by its presence.
      admin: (hub) => new PgAdminStore({
        sql, bus, hubId: o.hubId, healing: hub.healing,
        drainedHere: (id, drained) => presenceOf?.applyDrained(id, drained),
        agentChanged: (id) => hub.changes.publish({ type: 'agent', agent_id: id }),
      }),
      // Healing's rules are HealingPolicy's (hub/healing/healing-rules.ts) over the rows' counts.
      healing: (context) => new PgHealingStore({ sql, bus, lease, hubId: o.hubId, leaseMs: o.leaseMs, ...context }),
      // The fleet's one events stream: the rows, viewed from the rows (presence once this hub is attached).
      events: ({ rollouts, healing }) => ({
        store: eventStore,
        views: clusterEventViews({
          sql, settled: async () => presenceOf?.settled(), rolloutView: (id) => rollouts.view(id),
          healingAction: (id) => healing.action(id), taskRow: (id) => clusterTasks.opened.rows.take(id),
        }),
      }),
    },
    get healing() {
      return healingOf
    },
    async stop() {
      seam?.close()
      await healingOf?.release().catch((err) => o.log.warn('could not release the healing decider lease', { error: String(err) }))
      revocations.close()
      await lease.stop()
      await bus.close().catch(() => undefined)
      await releaseLease(sql, o.hubId).catch((err) => o.log.warn('could not release the cluster lease', { error: String(err) }))
      if (!o.sql) await sql.end({ timeout: 5 })
    },
  }
}
