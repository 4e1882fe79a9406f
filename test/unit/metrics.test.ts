/**
 * The metrics' parts alone: the registry's exposition read back by a parser of the format
 * (parse-prometheus-text-format), the counters' rules for counting each thing once, the
 * charts' bounded history on fake timers, the alert sender's outcomes, and GET /metrics on an
 * in-process hub.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Registry } from '../../hub/metrics/registry.ts'
import { FleetCounters } from '../../hub/metrics/fleet-counters.ts'
import { MetricsHistory } from '../../hub/metrics/history.ts'
import { EventLog } from '../../hub/events/event-log.ts'
import { createAlertSender, type AlertFetch } from '../../hub/alerts/alerts.ts'
import type { Hub } from '../../hub/app.ts'
import { createTestHub } from '../../support/in-process-hub.ts'
import { signAdminToken, signAgentToken } from '../../hub/auth/auth.ts'
import { silentLogger } from '../../shared/log.ts'
import { MINUTE } from '../../shared/time.ts'
import { family, histogram, parse, value } from '../../support/prometheus.ts'

const T0 = Date.UTC(2030, 0, 1)

describe('registry exposition', () => {
  it('is read back by the parser: types, help, labels (escaped) and values', async () => {
    const r = new Registry()
    const c = r.counter('x_total', 'Things.\nTwo lines, a \\ too.', ['kind'], { hub_id: 'h-1' })
    c.zero({ kind: 'a' })
    c.inc({ kind: 'quote " back \\ line\nend' }, 2)
    r.gauge('x_now', 'Now.', () => [{ value: 7 }, { labels: { s: 'b' }, value: 0.5 }])
    const families = parse(await r.expose())
    expect(family(families, 'x_total')).toMatchObject({ type: 'COUNTER', help: 'Things.\nTwo lines, a \\ too.' })
    expect(value(families, 'x_total', { kind: 'a', hub_id: 'h-1' })).toBe(0)
    expect(value(families, 'x_total', { kind: 'quote " back \\ line\nend' })).toBe(2)
    expect(family(families, 'x_now').metrics).toEqual([{ value: '7' }, { value: '0.5', labels: { s: 'b' } }])
  })

  it('writes histograms with cumulative buckets, +Inf, sum and count', async () => {
    const r = new Registry()
    const h = r.histogram('d_seconds', 'Durations.', [0.5, 1, 5])
    for (const v of [0.2, 0.7, 0.9, 7]) h.observe(v)
    h.observe(Number.NaN) // not a duration: not counted
    expect(histogram(parse(await r.expose()), 'd_seconds')).toEqual({
      count: 4, sum: 8.8, buckets: { '0.5': 1, '1': 3, '5': 3, '+Inf': 4 },
    })
  })

  it('leaves out a gauge whose source fails, and says so without its error text', async () => {
    const r = new Registry()
    r.gauge('bad', 'Fails.', async () => { throw new Error('secret detail') })
    r.gauge('good', 'Works.', () => [{ value: 1 }])
    const text = await r.expose()
    expect(text).toContain('# bad could not be read now\n')
    expect(text).not.toContain('secret detail')
    expect(value(parse(text), 'good')).toBe(1)
  })

  it('refuses what would break the format: bad names, twice the same, wrong labels, a counter going down', () => {
    const r = new Registry()
    expect(() => r.counter('bad-name', 'x')).toThrow(/invalid metric name/)
    const c = r.counter('ok_total', 'x', ['a'])
    expect(() => r.counter('ok_total', 'x')).toThrow(/registered twice/)
    expect(() => c.inc({ b: '1' })).toThrow(/labels must be exactly \["a"\]/)
    expect(() => c.inc({ a: '1' }, -1)).toThrow(/only goes up/)
  })
})

describe('fleet counters', () => {
  let now = T0
  let counters: FleetCounters
  let registry: Registry
  beforeEach(() => {
    now = T0
    registry = new Registry()
    counters = new FleetCounters(registry, {}, () => now)
  })
  const task = (task_id: string, status: string, updated_at = now) => counters.view('task', { task_id, status, updated_at })

  it('counts a task\'s end once, with its time from acceptance, and not a repeat of it', () => {
    task('t1', 'queued')
    task('t1', 'assigned')
    counters.taskAccepted('t1')
    task('t1', 'working')
    now += 2500
    task('t1', 'completed')
    task('t1', 'completed') // a late result acknowledged again
    expect(counters.tasksFinished.value({ status: 'completed' })).toBe(1)
    expect(counters.taskDuration.count).toBe(1)
    task('old', 'failed', now - 10 * MINUTE) // first seen long after it ended: another hub's, or before this one started
    expect(counters.tasksFinished.value({ status: 'failed' })).toBe(0)
    task('fresh', 'failed') // ended just now, first seen ended (its changes came in one turn)
    expect(counters.tasksFinished.value({ status: 'failed' })).toBe(1)
  })

  it('times a task run again from its last acceptance', async () => {
    counters.taskAccepted('t2')
    task('t2', 'working')
    now += 60_000
    task('t2', 'queued') // interrupted
    counters.taskAccepted('t2')
    now += 1000
    task('t2', 'completed')
    const h = histogram(parse(await registry.expose()), 'agentcom_task_duration_seconds')
    expect(h).toMatchObject({ count: 1, sum: 1 })
  })

  it('counts each restart once when it ends, by kind, and leaves out one another hub vouches for', () => {
    const r = (restart_id: string, state: string, extra: { reason?: string; rollout_id?: string | null } = {}) =>
      ({ restart_id, state, reason: extra.reason ?? 'deploy', rollout_id: extra.rollout_id ?? null })
    counters.restartChanged(r('r1', 'restarting'))
    counters.restartChanged(r('r1', 'completed'))
    counters.restartChanged(r('r1', 'completed'))
    counters.restartChanged(r('r2', 'failed', { rollout_id: 'ro-1' }))
    counters.restartChanged(r('r3', 'completed', { reason: 'heal:memory' }))
    counters.restartChanged(r('r4', 'failed', { reason: 'task_overdue' }), true)
    expect(counters.restarts.value({ kind: 'admin', state: 'completed' })).toBe(1)
    expect(counters.restarts.value({ kind: 'rollout', state: 'failed' })).toBe(1)
    expect(counters.restarts.value({ kind: 'healing', state: 'completed' })).toBe(1)
    expect(counters.restarts.value({ kind: 'healing', state: 'failed' })).toBe(0)
  })

  it('counts a healing action when first seen as recorded, by rule, and never an unknown rule or alert type', () => {
    counters.view('healing', { action_id: 'a1', rule: 'memory', state: 'commanded' })
    counters.view('healing', { action_id: 'a1', rule: 'memory', state: 'completed' })
    counters.view('healing', { action_id: 'a2', rule: 'crash_loop', state: 'lifted', at: now }) // a later change, first seen here
    counters.view('healing', { action_id: 'a4', rule: 'task_overdue', state: 'completed', at: now - 60_000 }) // an old action's end
    counters.view('healing', { action_id: 'a5', rule: 'task_overdue', state: 'restarting', at: now - 100 }) // read after its restart moved on
    counters.view('healing', { action_id: 'a3', rule: 'made up', state: 'alerted' })
    counters.view('healing', null)
    expect(counters.healingActions.value({ rule: 'memory' })).toBe(1)
    expect(counters.healingActions.value({ rule: 'crash_loop' })).toBe(0)
    expect(counters.healingActions.value({ rule: 'task_overdue' })).toBe(1)
    counters.alert('heal_failed', 'delivered')
    counters.alert('some other', 'failed')
    expect(counters.alerts.value({ type: 'heal_failed', result: 'delivered' })).toBe(1)
  })
})

describe('chart history', () => {
  let agents: Array<{ agent_id: string; status: string; stats: { rss_bytes: number; at: number } | null }>
  let history: MetricsHistory
  let log: EventLog
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 })
    agents = [{ agent_id: 'a', status: 'idle', stats: null }]
    log = new EventLog()
    history = new MetricsHistory({ clock: { now: () => Date.now() }, readAgents: async () => agents, pointsPerAgent: 3 })
    history.start(log)
  })
  afterEach(() => {
    history.close()
    vi.useRealTimers()
  })

  it('keeps each minute\'s highest count per status, and the last hour only', async () => {
    await vi.advanceTimersByTimeAsync(0)
    log.append('agent', { agent_id: 'a', status: 'restarting' })
    log.append('agent', { agent_id: 'a', status: 'idle' })
    const first = history.view().minutes.at(-1)!
    expect(first).toEqual({ at: T0, agents: { idle: 1, working: 0, restarting: 1, offline: 0 }, finished: { completed: 0, failed: 0, cancelled: 0 } })
    await vi.advanceTimersByTimeAsync(90 * MINUTE)
    const view = history.view()
    expect(view.minutes).toHaveLength(60)
    expect(view.minutes[0].at).toBe(T0 + 31 * MINUTE)
    expect(view.minutes.at(-1)!.agents).toEqual({ idle: 1, working: 0, restarting: 0, offline: 0 })
  })

  it('counts each task\'s end once in the minute it ended', async () => {
    log.append('task', { task_id: 't', status: 'working', updated_at: T0 })
    log.append('task', { task_id: 't', status: 'completed', updated_at: T0 + 1000 })
    log.append('task', { task_id: 't', status: 'completed', updated_at: T0 + 2000 })
    log.append('task', { task_id: 'u', status: 'failed', updated_at: T0 + 3000 })
    await vi.advanceTimersByTimeAsync(MINUTE)
    log.append('task', { task_id: 'v', status: 'completed', updated_at: T0 + 5000 }) // reported late: its own minute
    expect(history.view().minutes.map((m) => m.finished)).toEqual([
      { completed: 2, failed: 1, cancelled: 0 },
      { completed: 0, failed: 0, cancelled: 0 },
    ])
  })

  it('keeps an agent\'s last memory points and forgets an agent no longer listed', async () => {
    for (let i = 1; i <= 5; i++) log.append('agent', { agent_id: 'a', status: 'idle', stats: { rss_bytes: i * 100, at: T0 + i } })
    log.append('agent', { agent_id: 'a', status: 'idle', stats: { rss_bytes: 999, at: T0 + 5 } }) // the same report again
    expect(history.view().memory).toEqual({ a: [{ at: T0 + 3, rss_bytes: 300 }, { at: T0 + 4, rss_bytes: 400 }, { at: T0 + 5, rss_bytes: 500 }] })
    agents = []
    await vi.advanceTimersByTimeAsync(MINUTE)
    expect(history.view().memory).toEqual({})
  })
})

describe('alert outcomes', () => {
  it('tells once per alert whether it was delivered or given up on', async () => {
    vi.useFakeTimers({ now: T0 })
    try {
      const outcomes: string[] = []
      const fetch: AlertFetch = async (_url, init) => new Response(null, { status: JSON.parse(init.body).agent_id === 'ok' ? 204 : 500 })
      const sender = createAlertSender({
        url: 'http://127.0.0.1:9/hook', fetch, log: silentLogger, giveUpMs: 5000,
        onOutcome: (alert, result) => outcomes.push(`${alert.agent_id}:${result}`),
      })
      sender.send({ type: 'heal_failed', agent_id: 'ok', rule: 'memory', detail: '', at: T0 })
      sender.send({ type: 'heal_failed', agent_id: 'down', rule: 'memory', detail: '', at: T0 })
      await vi.advanceTimersByTimeAsync(10_000)
      expect(outcomes).toEqual(['ok:delivered', 'down:failed'])
      sender.close()
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('GET /metrics on an in-process hub', () => {
  const SECRET = 'm'.repeat(40)
  let hub: Hub
  beforeEach(() => {
    hub = createTestHub({ secret: SECRET, log: silentLogger })
  })
  afterEach(() => hub.close())

  it('refuses an agent token, and counts a task created through the API', async () => {
    const get = async (token: string) => hub.app.request('/metrics', { headers: { authorization: `Bearer ${token}` } })
    expect((await get(await signAgentToken(SECRET, 'a-1'))).status).toBe(401)
    const admin = await signAdminToken(SECRET)
    const post = await hub.app.request('/api/admin/tasks', {
      method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{"input":1}',
    })
    expect(post.status).toBe(201)
    const res = await get(admin)
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    const families = parse(await res.text())
    expect(value(families, 'agentcom_tasks_created_total')).toBe(1)
    expect(value(families, 'agentcom_tasks_queued')).toBe(1)
    // No runtime passed in (as in this test): the process metrics are left out, nothing else.
    expect(families.map((f) => f.name)).not.toContain('process_resident_memory_bytes')
    const history = await hub.app.request('/api/admin/metrics/history', { headers: { authorization: `Bearer ${admin}` } })
    expect(history.status).toBe(200)
    expect(await history.json()).toMatchObject({ minute_ms: 60_000, minutes: expect.any(Array), memory: {} })
  })
})
