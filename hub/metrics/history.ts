/**
 * What the dashboard's charts start from (`GET /api/admin/metrics/history`): for the last hour,
 * minute by minute, the most agents seen in each status and the tasks that finished; and each
 * agent's memory over its last stats reports. Followed from the events log (the fleet's, on
 * every hub of a cluster) and set right once a minute from the agents list, which also drops
 * agents the hub has forgotten. Bounded: 60 minutes, `pointsPerAgent` points per known agent.
 */
import { MINUTE } from '../../shared/time.ts'
import type { Clock } from '../../shared/time.ts'
import type { EventLog } from '../events/event-log.ts'
import { BoundedMap } from './bounded.ts'
import { AGENT_STATUSES } from './hub-metrics.ts'
import { TASK_FINAL } from './fleet-counters.ts'

type Counts<K extends string> = Record<K, number>

export interface MinuteSample {
  /** The minute's start, epoch ms. */
  at: number
  /** The most agents seen in each status during the minute. */
  agents: Counts<(typeof AGENT_STATUSES)[number]>
  /** Tasks that reached each final status during the minute. */
  finished: Counts<(typeof TASK_FINAL)[number]>
}

export interface MemoryPoint {
  at: number
  rss_bytes: number
}

export interface HistoryOptions {
  clock: Clock
  /** Every agent's status now (the admin backend's list). */
  readAgents(): Promise<Array<{ agent_id: string; status: string; stats: { rss_bytes: number; at: number } | null }>>
  /** Minutes kept. Default 60. */
  minutes?: number
  /** Memory points kept per agent. Default 30. */
  pointsPerAgent?: number
}

const FINISHED_REMEMBERED = 20_000

export class MetricsHistory {
  readonly #minutes: MinuteSample[] = []
  readonly #statuses = new Map<string, string>()
  /** Agents by status now, kept by difference: an event costs O(1) however large the fleet. */
  #counts = zeroCounts(AGENT_STATUSES)
  readonly #memory = new Map<string, MemoryPoint[]>()
  readonly #finished = new BoundedMap<string, true>(FINISHED_REMEMBERED)
  readonly #keepMinutes: number
  readonly #points: number
  #timer: ReturnType<typeof setInterval> | null = null
  #unsubscribe: (() => void) | null = null

  constructor(private readonly o: HistoryOptions) {
    this.#keepMinutes = o.minutes ?? 60
    this.#points = o.pointsPerAgent ?? 30
  }

  /** Follows the log from now on and reads the agents list at once and every minute. */
  start(log: EventLog): void {
    this.#unsubscribe = log.subscribe((event) => {
      try {
        if (event.kind === 'agent') this.#agent(event.view as AgentEvent)
        else if (event.kind === 'task') this.#task(event.view as TaskEvent)
      } catch {
        // A view this cannot read costs its point only, never the events stream.
      }
    })
    void this.resync()
    this.#timer = setInterval(() => void this.resync(), MINUTE)
  }

  /** Sets the statuses (and forgets agents no longer listed) from the agents list. */
  async resync(): Promise<void> {
    let agents: Awaited<ReturnType<HistoryOptions['readAgents']>>
    try {
      agents = await this.o.readAgents()
    } catch {
      return // the store is down: the events keep the history going meanwhile
    }
    this.#statuses.clear()
    this.#counts = zeroCounts(AGENT_STATUSES)
    const listed = new Set<string>()
    for (const a of agents) {
      listed.add(a.agent_id)
      this.#setStatus(a.agent_id, a.status)
      if (a.stats) this.#addPoint(a.agent_id, a.stats)
    }
    for (const id of this.#memory.keys()) if (!listed.has(id)) this.#memory.delete(id)
    this.#noteStatuses()
  }

  view(): { minute_ms: number; minutes: MinuteSample[]; memory: Record<string, MemoryPoint[]> } {
    this.#current()
    return {
      minute_ms: MINUTE,
      minutes: this.#minutes.map((m) => ({ at: m.at, agents: { ...m.agents }, finished: { ...m.finished } })),
      memory: Object.fromEntries([...this.#memory].map(([id, points]) => [id, points.slice()])),
    }
  }

  close(): void {
    this.#unsubscribe?.()
    if (this.#timer) clearInterval(this.#timer)
  }

  #agent(a: AgentEvent): void {
    if (typeof a?.agent_id !== 'string') return
    if (typeof a.status === 'string') this.#setStatus(a.agent_id, a.status)
    const stats = a.stats
    if (stats && typeof stats.rss_bytes === 'number' && typeof stats.at === 'number') this.#addPoint(a.agent_id, { rss_bytes: stats.rss_bytes, at: stats.at })
    this.#noteStatuses()
  }

  #task(t: TaskEvent): void {
    if (typeof t?.task_id !== 'string' || !(TASK_FINAL as readonly string[]).includes(t.status as string)) {
      if (typeof t?.task_id === 'string') this.#finished.delete(t.task_id)
      return
    }
    if (this.#finished.has(t.task_id)) return
    this.#finished.set(t.task_id, true)
    const at = typeof t.updated_at === 'number' ? t.updated_at : this.o.clock.now()
    const minute = this.#minuteOf(at)
    if (minute) minute.finished[t.status as (typeof TASK_FINAL)[number]]++
  }

  #addPoint(agentId: string, stats: { rss_bytes: number; at: number }): void {
    let points = this.#memory.get(agentId)
    if (!points) this.#memory.set(agentId, points = [])
    if (points.length > 0 && points[points.length - 1].at >= stats.at) return
    points.push({ at: stats.at, rss_bytes: stats.rss_bytes })
    if (points.length > this.#points) points.splice(0, points.length - this.#points)
  }

  #setStatus(agentId: string, status: string): void {
    const old = this.#statuses.get(agentId)
    if (old === status) return
    const counts = this.#counts as Record<string, number>
    if (old !== undefined && Object.hasOwn(counts, old)) counts[old]--
    if (Object.hasOwn(counts, status)) counts[status]++
    this.#statuses.set(agentId, status)
  }

  /** Raises the current minute's highs to the statuses now. */
  #noteStatuses(): void {
    const minute = this.#current()
    for (const s of AGENT_STATUSES) minute.agents[s] = Math.max(minute.agents[s], this.#counts[s])
  }

  /** The sample of the minute now, started (with the statuses now) when it is new. */
  #current(): MinuteSample {
    const start = Math.floor(this.o.clock.now() / MINUTE) * MINUTE
    const last = this.#minutes[this.#minutes.length - 1]
    if (last && last.at === start) return last
    const sample: MinuteSample = { at: start, agents: { ...this.#counts }, finished: zeroCounts(TASK_FINAL) }
    this.#minutes.push(sample)
    while (this.#minutes.length > 0 && this.#minutes[0].at <= start - this.#keepMinutes * MINUTE) this.#minutes.shift()
    return sample
  }

  /** The sample of the minute holding `at`, if it is still kept (made when it is the current one). */
  #minuteOf(at: number): MinuteSample | undefined {
    const current = this.#current()
    const start = Math.floor(at / MINUTE) * MINUTE
    if (start >= current.at) return current
    return this.#minutes.find((m) => m.at === start)
  }
}

interface AgentEvent {
  agent_id?: unknown
  status?: unknown
  stats?: { rss_bytes?: unknown; at?: unknown } | null
}

interface TaskEvent {
  task_id?: unknown
  status?: unknown
  updated_at?: unknown
}

function zeroCounts<K extends string>(keys: readonly K[]): Counts<K> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Counts<K>
}
