/**
 * The sidecar's `stats` frame: its own memory, event-loop delay and uptime, sent right after
 * each `identified` and then every AGENTCOM_STATS_INTERVAL_MS while connected. The hub shows
 * them on `Agent.stats` and its memory healing rule reads `rss_bytes`.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import type { StatsMessage } from '../shared/protocol.ts'

/** How often the event loop is sampled. Coarse on purpose: 50 wakeups a second cost nothing. */
const LOOP_RESOLUTION_MS = 20

export type ProcessStats = Omit<StatsMessage, 'type'>

/** What one report reads; a fake in tests. */
export interface StatsSampler {
  /** The stats since the last sample; the event-loop delay starts over with each one. */
  sample(): ProcessStats
  close(): void
}

/** Samples this process; the event-loop histogram is enabled until close(). */
export function processStatsSampler(): StatsSampler {
  const loop: IntervalHistogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
  loop.enable()
  return {
    sample() {
      const memory = process.memoryUsage()
      // The histogram holds how late each sampling timer fired, resolution included (ns).
      // Node drops the first sample after a reset: a stall that spans a report goes unseen.
      const worstLateMs = Math.max(0, loop.max / 1e6 - LOOP_RESOLUTION_MS)
      loop.reset()
      return {
        rss_bytes: memory.rss,
        heap_used_bytes: memory.heapUsed,
        event_loop_delay_ms: Math.round(worstLateMs * 100) / 100,
        uptime_ms: Math.round(process.uptime() * 1000),
      }
    },
    close() {
      loop.disable()
    },
  }
}

export interface StatsReporterOptions {
  intervalMs: number
  sampler: StatsSampler
  /** Sends one frame; a report while disconnected is simply not sent. */
  send(message: StatsMessage): unknown
}

export interface StatsReporter {
  /** The hub accepted the identify: report now, then every interval (restarting the schedule). */
  identified(): void
  /** The connection is gone: no reports until the next identified(). */
  disconnected(): void
  close(): void
}

export function createStatsReporter(opts: StatsReporterOptions): StatsReporter {
  let timer: ReturnType<typeof setInterval> | null = null
  const report = () => void opts.send({ type: 'stats', ...opts.sampler.sample() })
  const stop = () => {
    if (timer) clearInterval(timer)
    timer = null
  }
  return {
    identified() {
      stop()
      report()
      timer = setInterval(report, opts.intervalMs)
    },
    disconnected: stop,
    close() {
      stop()
      opts.sampler.close()
    },
  }
}
