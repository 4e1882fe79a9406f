/**
 * The hub's metrics for `GET /metrics`: the registry, the fleet gauges read at scrape time
 * (the fleet's, from the admin backend, so from the database in cluster mode), this hub's own
 * gauges, and the counters (fleet-counters.ts) fed by what the hub already announces. In
 * cluster mode every series but the fleet's carries `hub_id`.
 */
import type { Clock } from '../../shared/time.ts'
import type { ChangeFeed } from '../events/changes.ts'
import type { AgentRecord } from '../agents/fleet.ts'
import type { EventLog } from '../events/event-log.ts'
import { Registry } from './registry.ts'
import { FleetCounters } from './fleet-counters.ts'

export const AGENT_STATUSES = ['idle', 'working', 'restarting', 'offline'] as const

/** What only the runtime can tell (hub/node/metrics.ts, hub/deno/metrics.ts). */
export interface ProcessMetrics {
  /** `node` or `deno`, with its version. */
  runtime: string
  /** AgentCom's version (package.json). */
  version: string
  residentMemoryBytes(): number
}

/** The fleet as the gauges need it: every agent's status and quarantine. */
export interface FleetSnapshot {
  agents: Array<{ status: string; quarantined: boolean }>
  queuedTasks: number
}

export interface HubMetricsOptions {
  hubId: string
  /** Cluster mode: counters and this hub's gauges are labelled `hub_id`. */
  clustered: boolean
  clock: Clock
  changes: ChangeFeed
  /** This hub's fleet records: where a restart's end is read when its change is announced. */
  fleet: { get(agentId: string): AgentRecord | undefined }
  /** Read once per scrape (the fleet's, on every hub). */
  readFleet(): Promise<FleetSnapshot>
  connections(): number
  eventClients(): number
  process?: ProcessMetrics
}

/** One scrape's read of the fleet, made once however many gauges ask for it. */
class FleetRead {
  #snapshot: Promise<FleetSnapshot> | null = null
  constructor(private readonly read: () => Promise<FleetSnapshot>) {}
  get(): Promise<FleetSnapshot> {
    return this.#snapshot ??= this.read()
  }
}

export function createHubMetrics(o: HubMetricsOptions) {
  const registry = new Registry()
  const hubLabels: Record<string, string> = o.clustered ? { hub_id: o.hubId } : {}
  const counters = new FleetCounters(registry, hubLabels, () => o.clock.now())

  registry.gauge('agentcom_agents', 'Agents of the fleet by status.', async (fleet: FleetRead) => {
    const counts = new Map<string, number>(AGENT_STATUSES.map((s) => [s, 0]))
    for (const a of (await fleet.get()).agents) if (counts.has(a.status)) counts.set(a.status, counts.get(a.status)! + 1)
    return [...counts].map(([status, value]) => ({ labels: { status }, value }))
  })
  registry.gauge('agentcom_agents_quarantined', 'Agents of the fleet in quarantine (healing\'s crash-loop rule).', async (fleet: FleetRead) =>
    [{ value: (await fleet.get()).agents.filter((a) => a.quarantined).length }])
  registry.gauge('agentcom_tasks_queued', 'Tasks of the fleet waiting for an agent.', async (fleet: FleetRead) => [{ value: (await fleet.get()).queuedTasks }])
  registry.gauge('agentcom_connections', 'WebSocket connections open on this hub.', () => [{ value: o.connections() }], hubLabels)
  registry.gauge('agentcom_events_clients', 'Events streams open on this hub.', () => [{ value: o.eventClients() }], hubLabels)
  const proc = o.process
  if (proc) {
    registry.gauge('agentcom_build_info', 'Always 1: the AgentCom version and runtime of this hub.',
      () => [{ labels: { version: proc.version, runtime: proc.runtime }, value: 1 }], hubLabels)
    registry.gauge('process_resident_memory_bytes', 'Resident memory of this hub\'s process, in bytes.',
      () => [{ value: proc.residentMemoryBytes() }], hubLabels)
  }

  const unsubscribe = o.changes.on('agent', (change) => {
    if (change.restart_id === undefined) return
    const rec = o.fleet.get(change.agent_id)
    const restart = rec?.restart
    if (!rec || !restart || restart.restart_id !== change.restart_id) return
    const timedOutElsewhere = o.clustered && restart.state === 'failed' && restart.error === 'timeout' && rec.peer === null
    counters.restartChanged(restart, timedOutElsewhere)
  })

  return {
    counters,
    /** The exposition, text format 0.0.4. */
    expose: () => registry.expose(new FleetRead(o.readFleet)),
    /** Counts from the views of this hub's own changes (in single mode: its whole events log). */
    followOwnEvents(log: EventLog): () => void {
      return log.subscribe((event) => {
        try {
          counters.view(event.kind, event.view)
        } catch {
          // A view the counters cannot read costs its count only, never the events stream.
        }
      })
    },
    close(): void {
      unsubscribe()
    },
  }
}

export type HubMetrics = ReturnType<typeof createHubMetrics>
