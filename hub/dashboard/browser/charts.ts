/**
 * The charts' data: a memory sparkline per agent row from its last stats reports, and for the
 * fleet over the last hour, minute by minute, the most agents seen in each status and the tasks
 * finished. They start from GET /api/admin/metrics/history and move with the events stream.
 */
import type { Agent, Task } from '../../../shared/api-schemas.ts'
import {
  CHART_MINUTES, FINAL_STATUSES, SPARK_POINTS, STATUS_SERIES, drawFinished, drawStatuses, zeroes,
  type MemoryPoint, type MinuteSample,
} from './chart-draw.ts'

/** Remembered so a task counts once however often its final state is seen again. */
const COUNTED_TASKS = 5000
const FINAL: readonly string[] = FINAL_STATUSES

/** GET /api/admin/metrics/history, as far as the charts read it. */
export interface MetricsHistory { minute_ms?: number; minutes?: MinuteSample[]; memory?: Record<string, MemoryPoint[]> }

export type Charts = ReturnType<typeof createCharts>

export function createCharts(dom: { statuses: SVGSVGElement; finished: SVGSVGElement }) {
  let memory = new Map<string, MemoryPoint[]>()
  let minutes: MinuteSample[] = []
  let minuteMs = 60_000
  let counted = new Set<string>()
  let now = zeroes(STATUS_SERIES)
  let frame = 0

  function schedule(): void { if (!frame) frame = requestAnimationFrame(render) }

  /** The sample of the minute holding `at` (made when it is the newest), else null. */
  function minuteOf(at: number): MinuteSample | null {
    const start = Math.floor(at / minuteMs) * minuteMs
    const last = minutes[minutes.length - 1]
    if (last && last.at === start) return last
    if (last && start < last.at) {
      for (let i = minutes.length - 1; i >= 0; i--) if (minutes[i]!.at === start) return minutes[i]!
      return null
    }
    const fresh = { at: start, agents: zeroes(STATUS_SERIES), finished: zeroes(FINAL_STATUSES) }
    minutes.push(fresh)
    while (minutes.length && minutes[0]!.at <= start - CHART_MINUTES * minuteMs) minutes.shift()
    return fresh
  }

  function load(h: MetricsHistory | null): void {
    if (!h || !Array.isArray(h.minutes)) return
    minuteMs = h.minute_ms !== undefined && h.minute_ms > 0 ? h.minute_ms : 60_000
    minutes = h.minutes.slice(-CHART_MINUTES)
    const m = h.memory || {}
    const fresh = new Map<string, MemoryPoint[]>()
    for (const id of Object.keys(m)) {
      const mine = memory.get(id) || []
      const theirs = Array.isArray(m[id]) ? m[id] : []
      // Keep the points seen live since the hub answered.
      const last = theirs.length ? theirs[theirs.length - 1]!.at : -1
      fresh.set(id, theirs.concat(mine.filter((p) => p.at > last)).slice(-SPARK_POINTS))
    }
    memory = fresh
    schedule()
  }

  function agentSeen(a: Agent | null): void {
    const s = a && a.stats
    if (!a || !s || typeof s.rss_bytes !== 'number' || typeof s.at !== 'number') return
    let points = memory.get(a.agent_id)
    if (!points) memory.set(a.agent_id, points = [])
    if (points.length && points[points.length - 1]!.at >= s.at) return
    points.push({ at: s.at, rss_bytes: s.rss_bytes })
    if (points.length > SPARK_POINTS) points.shift()
  }

  /** The fleet's counts now (by status) raise this minute's highs. */
  function statusesNow(counts: Record<string, number>): void {
    const m = minuteOf(Date.now())!
    for (const s of STATUS_SERIES) {
      now[s] = counts[s] || 0
      m.agents[s] = Math.max(m.agents[s] || 0, now[s])
    }
    schedule()
  }

  function taskSeen(t: Task | null): void {
    if (!t || typeof t.task_id !== 'string') return
    if (!FINAL.includes(t.status)) { counted.delete(t.task_id); return }
    if (counted.has(t.task_id)) return
    counted.add(t.task_id)
    if (counted.size > COUNTED_TASKS) counted.delete(counted.values().next().value!)
    const m = minuteOf(typeof t.updated_at === 'number' ? t.updated_at : Date.now())
    if (m) { m.finished[t.status] = (m.finished[t.status] || 0) + 1; schedule() }
  }

  function clear(): void { memory = new Map(); minutes = []; counted = new Set(); now = zeroes(STATUS_SERIES); schedule() }

  function render(): void {
    frame = 0
    const first = Math.floor(Date.now() / minuteMs) * minuteMs - (CHART_MINUTES - 1) * minuteMs
    drawStatuses(dom.statuses, minutes, first, minuteMs, now)
    drawFinished(dom.finished, minutes, first, minuteMs)
  }

  return {
    load, agentSeen, statusesNow, taskSeen, clear, render: schedule,
    memoryPoints: (id: string): readonly MemoryPoint[] => memory.get(id) || [],
  }
}
