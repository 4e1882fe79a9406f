/**
 * `GET /api/admin/events` in process, what it sends: the hub's app answers a Request, the test
 * reads the response body as a client would, with the dashboard's own SSE parser
 * (support/events-hub.ts). Access, the views sent, and replay from Last-Event-ID (pacing,
 * keep-alives and the ends of a stream: events-route-stream.test.ts).
 */
import { waitUntil } from '../../support/wait.ts'
import { describe, expect, it } from 'vitest'
import { recordView } from '../../hub/api/views.ts'
import { admin, connect, hub, open, start, useEventsHub, type SseEvent } from '../../support/events-hub.ts'

useEventsHub()

describe('GET /api/admin/events', () => {
  it('needs the admin bearer header: none, a token in the URL, or an agent token get 401', async () => {
    expect((await hub.app.request('/api/admin/events')).status).toBe(401)
    expect((await hub.app.request(`/api/admin/events?token=${admin}`)).status).toBe(401)
    const res = await hub.app.request('/api/admin/events', { headers: { authorization: 'Bearer nope' } })
    expect(res.status).toBe(401)
    expect(await res.json()).toEqual({ error: 'unauthorized' })
  })

  it('answers text/event-stream, uncached, and starts with a comment', async () => {
    const s = await open()
    expect(s.res.status).toBe(200)
    expect(s.res.headers.get('content-type')).toBe('text/event-stream')
    expect(s.res.headers.get('cache-control')).toBe('no-store')
    await s.readUntil((t) => t.length > 0)
    expect(s.raw.text).toMatch(/^: agentcom events\n\n$/)
    await s.cancel()
  })

  it('sends the whole Agent view on each change, with an id', async () => {
    connect('a-1')
    const s = await open()
    hub.fleet.drain('a-1')
    const e = await s.next()
    expect(e.event).toBe('agent')
    expect(e.id).toMatch(/^[A-Za-z0-9_]+-\d+$/)
    expect(JSON.parse(e.data)).toEqual(recordView(hub.fleet.get('a-1')!, hub.hubId))
    expect(JSON.parse(e.data)).toMatchObject({ agent_id: 'a-1', drained: true, status: 'idle' })
    await s.cancel()
  })

  it('makes many changes of one agent in one turn one event, with the latest view', async () => {
    connect('a-1')
    connect('a-2')
    const s = await open()
    hub.fleet.drain('a-1')
    hub.fleet.resume('a-1')
    hub.fleet.drain('a-1')
    hub.fleet.drain('a-2')
    const first = await s.next()
    const second = await s.next()
    expect([first, second].map((e) => [e.event, JSON.parse(e.data).agent_id, JSON.parse(e.data).drained])).toEqual([
      ['agent', 'a-1', true], ['agent', 'a-2', true],
    ])
    hub.fleet.resume('a-2')
    expect(JSON.parse((await s.next()).data)).toMatchObject({ agent_id: 'a-2', drained: false })
    await s.cancel()
  })

  it('sends task and rollout views, and healing views published by their owner', async () => {
    connect('a-1')
    const s = await open()
    const { task } = hub.tasks.create({ n: 1 }, 'a-1', 1000)
    let e = await s.next()
    while (e.event !== 'task') e = await s.next()
    expect(JSON.parse(e.data)).toMatchObject({ task_id: task.task_id, agent_id: 'a-1', input: { n: 1 } })
    const created = await hub.rollouts.create({ reason: 'r', agent_ids: ['a-1'], max_unavailable: 1, mode: 'graceful', deadline_s: null })
    if (!created.ok) throw new Error(created.error)
    const rollout = created.rollout
    while (e.event !== 'rollout') e = await s.next()
    expect(JSON.parse(e.data)).toMatchObject({ rollout_id: rollout.rollout_id, state: 'running' })
    const action = { action_id: 'h-1', agent_id: 'a-1', rule: 'memory', action: 'restart', detail: 'rss', restart_id: null, state: 'started', at: 1 }
    hub.events.publish('healing', action)
    while (e.event !== 'healing') e = await s.next()
    expect(JSON.parse(e.data)).toEqual(action)
    await s.cancel()
  })

  it('sends each healing action the hub records or changes as event: healing', async () => {
    start({ healing: { crashLimit: 1 } })
    connect('a-1')
    const s = await open()
    // pm2 restarted it with no restart asked by the hub: quarantined at once (limit 1).
    hub.fleet.identify('a-1', { send: () => {}, close: () => {} }, {
      supervised: true, instance_id: 'i-2',
      pm2_info: { name: 'agentcom-a-1', pm_id: 1, pid: 1001, status: 'online', uptime_ms: 5, restart_count: 1, memory_bytes: 1 },
    })
    let e = await s.next()
    while (e.event !== 'healing') e = await s.next()
    const [action] = (await hub.healing!.view()).actions
    expect(JSON.parse(e.data)).toEqual(action)
    expect(action).toMatchObject({ agent_id: 'a-1', rule: 'crash_loop', action: 'quarantine', state: 'quarantined' })

    hub.healing!.resumeAgent('a-1')
    e = await s.next()
    while (e.event !== 'healing') e = await s.next()
    expect(JSON.parse(e.data)).toMatchObject({ action_id: action.action_id, state: 'lifted' })
    await s.cancel()
  })

  it('replays what a reconnecting client missed, from Last-Event-ID, in order', async () => {
    connect('a-1')
    const s = await open()
    hub.fleet.drain('a-1')
    const seen = await s.next()
    await s.cancel()
    hub.fleet.resume('a-1')
    await hub.events.settled() // its event is in the log
    hub.fleet.drain('a-1')
    await hub.events.settled() // its event is in the log
    const again = await open({ 'last-event-id': seen.id! })
    const missed = [await again.next(), await again.next()]
    expect(missed.map((e) => JSON.parse(e.data).drained)).toEqual([false, true])
    const seq = (id: string | null) => Number(id!.split('-').pop())
    expect(missed.map((e) => seq(e.id))).toEqual([seq(seen.id) + 1, seq(seen.id) + 2])
    hub.fleet.resume('a-1')
    expect(seq((await again.next()).id)).toBe(seq(seen.id) + 3)
    await again.cancel()
  })

  it('replays each event as it was, though its agent or healing action changed after it', async () => {
    start({ healing: { crashLimit: 1 } })
    connect('a-1')
    const first = await open()
    hub.fleet.drain('a-1')
    const seen = await first.next()
    await first.cancel()
    // Nobody reads these until the replay below, after all of them happened.
    hub.fleet.identify('a-1', { send: () => {}, close: () => {} }, {
      supervised: true, instance_id: 'i-2',
      pm2_info: { name: 'agentcom-a-1', pm_id: 1, pid: 1001, status: 'online', uptime_ms: 5, restart_count: 1, memory_bytes: 1 },
    })
    await waitUntil(() => expect(hub.fleet.get('a-1')?.quarantined).toBe(true)) // healing's step is asynchronous
    await hub.events.settled() // the quarantine's events are in the log
    hub.fleet.resume('a-1')
    hub.healing!.resumeAgent('a-1')
    await hub.events.settled() // its event is in the log
    const again = await open({ 'last-event-id': seen.id! })
    const replayed: SseEvent[] = []
    while (!replayed.some((e) => e.event === 'healing' && JSON.parse(e.data).state === 'lifted')) replayed.push(await again.next())
    const healing = replayed.filter((e) => e.event === 'healing').map((e) => JSON.parse(e.data).state)
    expect(healing).toEqual(['quarantined', 'lifted'])
    const agents = replayed.filter((e) => e.event === 'agent').map((e) => JSON.parse(e.data))
    expect(agents[0]).toMatchObject({ drained: true, quarantined: true, pm2_info: { pid: 1001, restart_count: 1 } })
    expect(agents.at(-1)).toMatchObject({ drained: false, quarantined: false })
    await again.cancel()
  })

  it('gives a client that joins while a batch waits each event once', async () => {
    connect('a-1')
    const other = await open()
    const before = hub.events.log.lastId
    hub.fleet.drain('a-1')
    await hub.events.settled() // its event is in the log
    expect(hub.events.log.lastId).not.toBe(before)
    const joining = await open({ 'last-event-id': before })
    hub.fleet.resume('a-1')
    const got = [await joining.next(), await joining.next()]
    expect(got.map((e) => JSON.parse(e.data).drained)).toEqual([true, false])
    expect((await other.next()).id).toBe(got[0].id)
    expect((await other.next()).id).toBe(got[1].id)
    await joining.cancel()
    await other.cancel()
  })

  it('sends event: reset first when the id is unknown or older than the buffer', async () => {
    start({ eventBuffer: 3 })
    connect('a-1')
    const s = await open()
    hub.fleet.drain('a-1')
    const old = await s.next()
    await s.cancel()
    for (let i = 0; i < 4; i++) {
      hub.fleet.resume('a-1')
      await hub.events.settled() // its event is in the log
    }
    for (const id of [old.id!, 'not-an-id', 'x']) {
      const again = await open({ 'last-event-id': id })
      const first = await again.next()
      expect(first.event, id).toBe('reset')
      expect(first.id).toBe(hub.events.log.lastId)
      await again.cancel()
    }
  })
})
