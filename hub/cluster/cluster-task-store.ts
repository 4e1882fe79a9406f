/**
 * The cluster's tasks as createHub is handed them (HubStore.tasks, hub/tasks/shared-tasks.ts):
 * the rows (PgTaskStore), this hub's claim path over them (claim-loop.ts, within its lease), the
 * bus's nudge to every hub, output in its table. Opened by createHub over its fleet and settings;
 * the runtime's attach then reads what was opened (its admin, sweep and events use the rows too).
 */
import { ALL_HUBS, type PgBus } from '../pg/notify-bus.ts'
import type { Sql } from '../pg/connect.ts'
import { PgTaskStore, TASKS_NUDGE } from '../pg/pg-task-store.ts'
import type { TaskRow } from '../pg/task-queue.ts'
import { countQueuedTasks } from '../pg/fleet-gauge-rows.ts'
import { PgTaskAdmin } from '../pg/pg-task-admin.ts'
import { ClusterTaskOutputs } from '../pg/pg-task-output.ts'
import type { OpenSharedTasks } from '../tasks/shared-tasks.ts'
import type { TaskRows } from './task-rows.ts'
import { clusterClaimPath } from './claim-loop.ts'

export interface OpenedClusterTasks {
  store: PgTaskStore
  /** The rows this hub's task changes left, for their events (cluster-events.ts). */
  rows: TaskRows<TaskRow>
  outputs: ClusterTaskOutputs
}

export function createClusterTasks(d: { sql: Sql; bus: PgBus; lease: { readonly valid: boolean }; hubId: string }): {
  open: OpenSharedTasks
  /** What createHub opened; throws before that (attach runs after createHub built its tasks). */
  readonly opened: OpenedClusterTasks
} {
  let opened: OpenedClusterTasks | null = null
  return {
    open(hub) {
      const store = new PgTaskStore({ sql: d.sql, bus: d.bus, hubId: d.hubId, log: hub.log, maxAttempts: hub.maxAttempts, maxQueuedTasks: hub.maxQueuedTasks })
      const claimPath = clusterClaimPath<TaskRow>({ claim: (agents) => store.claim(agents), lease: d.lease, fleet: hub.fleet, log: hub.log })
      const outputs = new ClusterTaskOutputs(d.sql, hub.log)
      opened = { store, rows: claimPath.rows, outputs }
      return {
        store, claimPath, outputs,
        nudgeAll: () => d.bus.publish(ALL_HUBS, { ...TASKS_NUDGE }),
        queuedCount: () => countQueuedTasks(d.sql),
        admin: (here) => new PgTaskAdmin({ sql: d.sql, bus: d.bus, hubId: d.hubId, store, maxQueuedTasks: hub.maxQueuedTasks, here }),
      }
    },
    get opened() {
      if (!opened) throw new Error('the cluster\'s tasks are opened by createHub (HubStore.tasks) before it attaches')
      return opened
    },
  }
}
