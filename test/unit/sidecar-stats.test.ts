/**
 * The sidecar's `stats` frame: sent right after `identified` and then every
 * AGENTCOM_STATS_INTERVAL_MS while connected (fake timers), and the real sampler's readings.
 */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { waitUntil } from '../../support/wait.ts'
import { createStatsReporter, processStatsSampler, type ProcessStats, type StatsSampler } from '../../sidecar/stats.ts'
import { createSidecar } from '../../sidecar/sidecar.ts'
import { TaskQueue } from '../../sidecar/queue.ts'
import type { HubLinkOptions } from '../../sidecar/hub-link.ts'
import { decodeSidecarMessage, type SidecarMessage } from '../../shared/protocol.ts'
import { silentLogger } from '../../shared/log.ts'

afterEach(() => {
  vi.useRealTimers()
})

/** Counts its samples in `uptime_ms`, so each frame says which sample it carries. */
function countingSampler(): StatsSampler & { closed: boolean } {
  let n = 0
  return {
    closed: false,
    sample: (): ProcessStats => ({ rss_bytes: 50 * 1024 * 1024, heap_used_bytes: 10 * 1024 * 1024, event_loop_delay_ms: 1.5, uptime_ms: ++n }),
    close() {
      this.closed = true
    },
  }
}

describe('stats reporter schedule', () => {
  it('reports at once on identified, then every interval, and stops while disconnected', () => {
    vi.useFakeTimers()
    const sent: SidecarMessage[] = []
    const sampler = countingSampler()
    const reporter = createStatsReporter({ intervalMs: 1000, sampler, send: (m) => sent.push(m) })
    vi.advanceTimersByTime(5000)
    expect(sent).toEqual([]) // nothing before the hub accepted the identify

    reporter.identified()
    expect(sent.map((m) => (m as any).uptime_ms)).toEqual([1])
    vi.advanceTimersByTime(999)
    expect(sent).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(sent).toHaveLength(2)
    vi.advanceTimersByTime(3000)
    expect(sent).toHaveLength(5)

    reporter.disconnected()
    vi.advanceTimersByTime(10_000)
    expect(sent).toHaveLength(5)

    // A new connection starts the schedule over: at once, then one interval later.
    reporter.identified()
    expect(sent).toHaveLength(6)
    vi.advanceTimersByTime(1000)
    expect(sent).toHaveLength(7)
    for (const m of sent) expect(decodeSidecarMessage(JSON.stringify(m)).ok).toBe(true)

    reporter.close()
    vi.advanceTimersByTime(10_000)
    expect(sent).toHaveLength(7)
    expect(sampler.closed).toBe(true)
  })

  it('a second identified does not add a second schedule', () => {
    vi.useFakeTimers()
    const sent: SidecarMessage[] = []
    const reporter = createStatsReporter({ intervalMs: 1000, sampler: countingSampler(), send: (m) => sent.push(m) })
    reporter.identified()
    reporter.identified()
    vi.advanceTimersByTime(3000)
    expect(sent).toHaveLength(2 + 3)
    reporter.close()
  })
})

describe('the sidecar sends stats', () => {
  it('right after identified and on its interval, none after the connection closed', async () => {
    vi.useFakeTimers()
    const sent: SidecarMessage[] = []
    let handlers!: Pick<HubLinkOptions, 'onOpen' | 'onMessage' | 'onClose'>
    const queue = await TaskQueue.open(join(await mkdtemp(join(tmpdir(), 'agentcom-stats-')), 'q.json'), silentLogger)
    const sidecar = createSidecar({
      config: {
        hubUrl: 'ws://hub', hubUrls: ['ws://hub'], agentId: 'a-1', token: 'tok', dataDir: '/tmp', taskCommand: 'true',
        processName: null, shutdownGraceMs: 1000, statsIntervalMs: 2000, taskDir: '/tmp', taskEnv: [], taskUser: null,
      },
      pm2: { supervised: true, getInfo: async () => null, getStatus: async () => null, getProcessName: async () => null, infoFromEnv: () => null },
      queue,
      connect: (h) => {
        handlers = h
        return { connected: true, send: async (m) => (sent.push(m), true), identified: () => {}, close: async () => {} }
      },
      exec: () => ({ done: new Promise(() => {}), stop: () => {} }),
      log: silentLogger,
      exit: () => {},
      taskEnv: {},
      instanceId: 'inst-1',
      stats: countingSampler(),
    })
    const running = await sidecar.start()
    handlers.onOpen()
    await waitUntil(() => expect(sent.map((m) => m.type)).toEqual(['identify']))
    vi.advanceTimersByTime(10_000)
    expect(sent.filter((m) => m.type === 'stats')).toEqual([]) // not before identified

    handlers.onMessage({ type: 'identified', agent_id: 'a-1' })
    expect(sent.map((m) => m.type)).toEqual(['identify', 'stats'])
    expect(sent[1]).toEqual({ type: 'stats', rss_bytes: 50 * 1024 * 1024, heap_used_bytes: 10 * 1024 * 1024, event_loop_delay_ms: 1.5, uptime_ms: 1 })
    vi.advanceTimersByTime(4000)
    expect(sent.filter((m) => m.type === 'stats')).toHaveLength(3)

    handlers.onClose?.(1006)
    vi.advanceTimersByTime(10_000)
    expect(sent.filter((m) => m.type === 'stats')).toHaveLength(3)
    await running.stop(0)
  })
})

describe('the process sampler', () => {
  it('reads this process and sees the event loop blocked', async () => {
    const sampler = processStatsSampler()
    try {
      await new Promise((resolve) => setTimeout(resolve, 50))
      sampler.sample() // starts the interval over
      await new Promise((resolve) => setTimeout(resolve, 50))
      const blockedUntil = Date.now() + 150
      while (Date.now() < blockedUntil) { /* the loop is blocked */ }
      await new Promise((resolve) => setTimeout(resolve, 50))
      const stats = sampler.sample()
      expect(stats.rss_bytes).toBeGreaterThan(stats.heap_used_bytes)
      expect(stats.heap_used_bytes).toBeGreaterThan(0)
      expect(stats.uptime_ms).toBeGreaterThan(0)
      // A lower bound only: a busy machine makes the loop later, never earlier.
      expect(stats.event_loop_delay_ms).toBeGreaterThanOrEqual(100)
      expect(decodeSidecarMessage(JSON.stringify({ type: 'stats', ...stats })).ok).toBe(true)
    } finally {
      sampler.close()
    }
  })
})
