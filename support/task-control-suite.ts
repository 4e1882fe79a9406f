/**
 * Task control's rules (CONTRACT.md, "Task control (v3)") as one behaviour suite, run on each
 * store: test/unit/task-control.test.ts on a single hub, test/pg/task-control.test.ts on two
 * cluster hubs (tasks made on one, agents on the other). Agents are real WebSocket clients.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { TestSocket } from './ws-client.ts'
import { waitFor } from './wait.ts'

export interface TaskControlStore {
  /** An admin request (to the hub that creates tasks). */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>
  /** An agent identified (on the hub that holds agents), with identify fields `extra`. */
  agent(agentId: string, extra?: Record<string, unknown>): Promise<TestSocket>
  /** Follows a task's output over SSE (from the hub that does not hold the agent, in cluster mode). */
  follow(taskId: string): SseReader
  /** Empties the store between tests (the cluster's tables); the single hub is started anew instead. */
  reset(): Promise<void>
  stop(): Promise<void>
}

export interface SseReader {
  /** The next event, its data parsed. */
  next(): Promise<{ event: string; data: any }>
}

/** Reads `GET .../output?follow=1` as it arrives. */
export function followOutput(url: string, token: string): SseReader {
  const response = fetch(url, { headers: { authorization: `Bearer ${token}` } })
  let buffer = ''
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null
  const decoder = new TextDecoder()
  return {
    async next() {
      reader ??= (await response).body!.getReader()
      for (;;) {
        const end = buffer.indexOf('\n\n')
        if (end !== -1) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          if (block.startsWith(':')) continue
          const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message'
          const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n')
          return { event, data: JSON.parse(data) }
        }
        const { value, done } = await reader.read()
        if (done) throw new Error(`stream ended; left: ${JSON.stringify(buffer)}`)
        buffer += decoder.decode(value, { stream: true })
      }
    },
  }
}

export function describeTaskControl(store: string, start: () => Promise<TaskControlStore>): void {
  describe(`task control (${store})`, () => {
    let s: TaskControlStore
    const sockets: TestSocket[] = []
    let n = 0
    /** Agent ids unique per test, so no test sees another's agents. */
    const id = (name: string) => `${name}-${n}`

    beforeAll(async () => {
      s = await start()
    })
    afterEach(async () => {
      for (const socket of sockets.splice(0)) socket.close()
      await s.reset()
      n++
    })
    afterAll(() => s?.stop())

    async function agent(name: string, extra: Record<string, unknown> = {}): Promise<TestSocket> {
      const socket = await s.agent(id(name), extra)
      sockets.push(socket)
      return socket
    }
    const task = (taskId: string) => s.api('GET', `/tasks/${taskId}`).then((r) => r.body)
    const post = async (body: Record<string, unknown>) => {
      const res = await s.api('POST', '/tasks', body)
      expect(res.status).toBe(201)
      return res.body
    }
    /** Accepts the next assignment and returns it. */
    async function take(socket: TestSocket): Promise<any> {
      const assign = await socket.next('task_assign')
      socket.send({ type: 'task_accepted', task_id: assign.task_id })
      return assign
    }

    it('a queued task is cancelled at once and never assigned; cancelling again is 409, an unknown task 404', async () => {
      const first = await post({ input: { n: 1 }, agent_id: id('late') })
      const cancelled = await s.api('POST', `/tasks/${first.task_id}/cancel`)
      expect(cancelled).toMatchObject({ status: 200, body: { task_id: first.task_id, status: 'cancelled', attempts: 0 } })
      expect(await s.api('POST', `/tasks/${first.task_id}/cancel`)).toEqual({ status: 409, body: { error: 'task_finished' } })
      expect(await s.api('POST', '/tasks/no-such-task/cancel')).toEqual({ status: 404, body: { error: 'task_not_found' } })
      const second = await post({ input: { n: 2 }, agent_id: id('late') })
      const socket = await agent('late')
      // Oldest first: had the cancelled task been assignable, it would come first.
      expect((await socket.next('task_assign')).task_id).toBe(second.task_id)
      expect(await task(first.task_id)).toMatchObject({ status: 'cancelled', attempts: 0 })
    })

    it('a working task: the agent is told to stop it, its report is acknowledged, it stays cancelled, and the agent takes the next task', async () => {
      const socket = await agent('w')
      const created = await post({ input: { n: 1 }, agent_id: id('w') })
      await take(socket)
      await waitFor(() => task(created.task_id), (t) => t.status === 'working', { what: 'working' })
      const answer = await s.api('POST', `/tasks/${created.task_id}/cancel`)
      expect(answer).toMatchObject({ status: 200, body: { status: 'cancelled', agent_id: id('w') } })
      expect(await socket.next('task_cancel')).toEqual({ type: 'task_cancel', task_id: created.task_id, reason: 'cancelled' })
      const next = await post({ input: { n: 2 }, agent_id: id('w') })
      socket.send({ type: 'task_interrupted', task_id: created.task_id, reason: 'cancelled' })
      expect(await socket.next('task_ack')).toEqual({ type: 'task_ack', task_id: created.task_id })
      expect((await take(socket)).task_id).toBe(next.task_id)
      expect(await task(created.task_id)).toMatchObject({ status: 'cancelled', attempts: 1 })
      expect(await s.api('POST', `/tasks/${created.task_id}/cancel`)).toEqual({ status: 409, body: { error: 'task_finished' } })
    })

    it('a cancel racing the completion ends in one final state, the one the answers agree on', async () => {
      for (let round = 0; round < 4; round++) {
        const socket = await agent(`race${round}`)
        const created = await post({ input: { round }, agent_id: id(`race${round}`) })
        await take(socket)
        await waitFor(() => task(created.task_id), (t) => t.status === 'working', { what: 'working' })
        socket.send({ type: 'task_complete', task_id: created.task_id, result: { round } })
        const answer = await s.api('POST', `/tasks/${created.task_id}/cancel`)
        await socket.next('task_ack')
        const final = await task(created.task_id)
        if (answer.status === 200) expect(final).toMatchObject({ status: 'cancelled', result: null })
        else {
          expect(answer).toEqual({ status: 409, body: { error: 'task_finished' } })
          expect(final).toMatchObject({ status: 'completed', result: { round } })
        }
        // Settled: a resent report changes nothing.
        socket.send({ type: 'task_complete', task_id: created.task_id, result: 'again' })
        await socket.next('task_ack')
        expect((await task(created.task_id)).status).toBe(final.status)
      }
    })

    it('an agent gone with its task: cancelled at once; back with it, it is told to stop it', async () => {
      const socket = await agent('gone')
      const created = await post({ input: { n: 1 }, agent_id: id('gone') })
      await take(socket)
      await waitFor(() => task(created.task_id), (t) => t.status === 'working', { what: 'working' })
      socket.close()
      await socket.closed
      expect(await s.api('POST', `/tasks/${created.task_id}/cancel`)).toMatchObject({ status: 200, body: { status: 'cancelled' } })
      const back = await agent('gone', { active_task_id: created.task_id })
      expect(await back.next('task_cancel')).toEqual({ type: 'task_cancel', task_id: created.task_id, reason: 'cancelled' })
      // Busy until it reports the stopped task: nothing new meanwhile.
      const next = await post({ input: { n: 2 }, agent_id: id('gone') })
      expect((await task(next.task_id)).status).toBe('queued')
      back.send({ type: 'task_interrupted', task_id: created.task_id, reason: 'cancelled' })
      await back.next('task_ack')
      expect((await take(back)).task_id).toBe(next.task_id)
      expect(await task(created.task_id)).toMatchObject({ status: 'cancelled' })
    })

    it('lists tasks newest first, by status and agent, in pages', async () => {
      const made = []
      for (let i = 0; i < 5; i++) made.push(await post({ input: { i }, agent_id: id(i % 2 === 0 ? 'even' : 'odd') }))
      await s.api('POST', `/tasks/${made[1].task_id}/cancel`)
      const ids = (body: any) => body.tasks.map((t: any) => t.task_id)
      const newest = [...made].reverse().map((t) => t.task_id)
      const all = await s.api('GET', '/tasks')
      expect(all.status).toBe(200)
      expect(ids(all.body)).toEqual(newest)
      expect(all.body.next_cursor).toBeNull()
      const seen: string[] = []
      let cursor: string | null = null
      for (let page = 0; page < 3; page++) {
        const res = await s.api('GET', `/tasks?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`)
        seen.push(...ids(res.body))
        cursor = res.body.next_cursor
      }
      expect(seen).toEqual(newest)
      expect(cursor).toBeNull()
      expect(ids((await s.api('GET', '/tasks?status=cancelled')).body)).toEqual([made[1].task_id])
      expect(ids((await s.api('GET', `/tasks?agent_id=${id('even')}&status=queued`)).body)).toEqual([made[4], made[2], made[0]].map((t) => t.task_id))
      for (const bad of ['limit=0', 'limit=1001', 'limit=x', 'status=done', 'cursor=abc', 'agent_id=a%20b']) {
        const res = await s.api('GET', `/tasks?${bad}`)
        expect(res.status, bad).toBe(400)
        expect(res.body.error).toBe('invalid_request')
      }
    })

    it('labels: shown on the agent, filtered on the list, and a labelled task goes only to an agent with every one', async () => {
      const plain = await agent('plain')
      const gpu = await agent('gpu', { labels: ['gpu', 'region=eu-west'] })
      const agents = (query: string) => s.api('GET', `/agents?${query}`).then((r) => r.body.agents.map((a: any) => a.agent_id))
      expect((await s.api('GET', `/agents/${id('plain')}`)).body.labels).toEqual([])
      expect((await s.api('GET', `/agents/${id('gpu')}`)).body.labels).toEqual(['gpu', 'region=eu-west'])
      expect(await agents('label=gpu&label=region=eu-west')).toEqual([id('gpu')])
      expect(await agents('label=gpu&label=region=us')).toEqual([])
      expect((await s.api('GET', '/agents?label=a%20b')).status).toBe(400)
      const created = await post({ input: {}, labels: ['region=eu-west'] })
      expect(created.labels).toEqual(['region=eu-west'])
      expect((await take(gpu)).task_id).toBe(created.task_id)
      const unmatched = await post({ input: {}, labels: ['tpu'] })
      const free = await post({ input: {} })
      // The plain agent was free all along: it gets the unlabelled task, never the labelled ones.
      expect((await take(plain)).task_id).toBe(free.task_id)
      expect(await task(unmatched.task_id)).toMatchObject({ status: 'queued' })
      expect((await s.api('POST', '/tasks', { input: {}, labels: ['bad label'] })).status).toBe(400)
    })

    it('retries a failed run after a doubling delay, at most `retries` times; an interruption uses none', async () => {
      const socket = await agent('flaky')
      const created = await post({ input: {}, agent_id: id('flaky'), retries: 2, retry_delay_ms: 500 })
      expect(created).toMatchObject({ retries: 2, retry_delay_ms: 500, retried: 0 })
      await take(socket)
      socket.send({ type: 'task_interrupted', task_id: created.task_id, reason: 'sidecar crashed' })
      await socket.next('task_ack')
      const gaps: number[] = []
      let failedAt = 0
      for (let run = 0; run < 3; run++) {
        expect((await take(socket)).task_id).toBe(created.task_id)
        if (run > 0) gaps.push(Date.now() - failedAt)
        socket.send({ type: 'task_failed', task_id: created.task_id, error: `run ${run}` })
        failedAt = Date.now()
        await socket.next('task_ack')
        if (run < 2) expect(await task(created.task_id)).toMatchObject({ status: 'queued', retried: run + 1, error: `run ${run}` })
      }
      const final = await waitFor(() => task(created.task_id), (t) => t.status === 'failed', { what: 'failed' })
      expect(final).toMatchObject({ status: 'failed', retried: 2, attempts: 4, error: 'run 2' })
      expect(gaps[0]).toBeGreaterThanOrEqual(450)
      expect(gaps[1]).toBeGreaterThanOrEqual(950)
    })

    it('output: kept from the agent holding the task, followed live over SSE in order, ending with the final task', async () => {
      const socket = await agent('out')
      const other = await agent('other')
      const created = await post({ input: {}, agent_id: id('out') })
      await take(socket)
      await waitFor(() => task(created.task_id), (t) => t.status === 'working', { what: 'working' })
      socket.send({ type: 'task_output', task_id: created.task_id, stream: 'stdout', data: 'line 1\n' })
      // Not its task: ignored.
      other.send({ type: 'task_output', task_id: created.task_id, stream: 'stdout', data: 'forged\n' })
      const events = s.follow(created.task_id)
      expect(await events.next()).toMatchObject({ event: 'output', data: { stream: 'stdout', data: 'line 1\n' } })
      socket.send({ type: 'task_output', task_id: created.task_id, stream: 'stderr', data: 'warn ✓\n' })
      expect(await events.next()).toMatchObject({ event: 'output', data: { stream: 'stderr', data: 'warn ✓\n' } })
      for (let i = 2; i <= 5; i++) socket.send({ type: 'task_output', task_id: created.task_id, stream: 'stdout', data: `line ${i}\n` })
      socket.send({ type: 'task_complete', task_id: created.task_id, result: 'ok' })
      for (let i = 2; i <= 5; i++) expect(await events.next()).toMatchObject({ event: 'output', data: { data: `line ${i}\n` } })
      expect(await events.next()).toMatchObject({ event: 'end', data: { task_id: created.task_id, status: 'completed', result: 'ok' } })
      const kept = await s.api('GET', `/tasks/${created.task_id}/output`)
      expect(kept.status).toBe(200)
      expect(kept.body.truncated).toBe(false)
      expect(kept.body.output.map((c: any) => c.data).join('')).toBe('line 1\nwarn ✓\nline 2\nline 3\nline 4\nline 5\n')
      expect(kept.body.output[1]).toEqual({ stream: 'stderr', data: 'warn ✓\n', at: expect.any(Number) })
      expect(await s.api('GET', '/tasks/nope/output')).toEqual({ status: 404, body: { error: 'task_not_found' } })
    })

    it('output: the last 1 MiB is kept, older dropped and marked truncated; a sidecar\'s own drop marks it too', async () => {
      const socket = await agent('big')
      const created = await post({ input: {}, agent_id: id('big') })
      await take(socket)
      const block = (i: number) => `${String(i).padStart(6, '0')}${'x'.repeat(16 * 1024 - 6)}`
      for (let i = 0; i < 80; i++) socket.send({ type: 'task_output', task_id: created.task_id, stream: 'stdout', data: block(i) })
      socket.send({ type: 'task_complete', task_id: created.task_id, result: null })
      await socket.next('task_ack')
      const kept = (await s.api('GET', `/tasks/${created.task_id}/output`)).body
      expect(kept.truncated).toBe(true)
      expect(kept.output.length).toBe(64)
      expect(kept.output[0].data.slice(0, 6)).toBe('000016')
      expect(kept.output[63].data.slice(0, 6)).toBe('000079')
      const small = await post({ input: {}, agent_id: id('big') })
      await take(socket)
      socket.send({ type: 'task_output', task_id: small.task_id, stream: 'stdout', data: 'tail', dropped: 1000 })
      socket.send({ type: 'task_complete', task_id: small.task_id, result: null })
      await socket.next('task_ack')
      expect((await s.api('GET', `/tasks/${small.task_id}/output`)).body).toMatchObject({ truncated: true, output: [{ data: 'tail' }] })
    })

    it('a rollout with labels restarts only the agents with every one', async () => {
      await agent('r1', { labels: ['canary'] })
      await agent('r2')
      const res = await s.api('POST', '/rollouts', { labels: ['canary'], reason: 'canary only' })
      expect(res.status).toBe(201)
      expect(res.body.agents.map((a: any) => a.agent_id)).toEqual([id('r1')])
      const none = await s.api('POST', '/rollouts', { labels: ['nobody'], agent_ids: [id('r2')] })
      expect(none.status).toBe(201)
      expect(none.body.agents).toEqual([])
      expect((await s.api('POST', '/rollouts', { labels: ['a b'] })).status).toBe(400)
    })

    it('all: one task per connected, undrained, unquarantined agent with the labels; none matching is an empty list', async () => {
      await agent('f1', { labels: ['web'] })
      await agent('f2', { labels: ['web', 'eu'] })
      await agent('f3', { labels: ['web'] })
      await agent('f4')
      expect((await s.api('POST', `/agents/${id('f3')}/drain`)).status).toBe(200)
      const res = await s.api('POST', '/tasks', { input: { hi: 1 }, all: true, labels: ['web'] })
      expect(res.status).toBe(201)
      expect(res.body.tasks.map((t: any) => t.agent_id).sort()).toEqual([id('f1'), id('f2')])
      expect(await s.api('POST', '/tasks', { input: {}, all: true, labels: ['none'] })).toEqual({ status: 201, body: { tasks: [] } })
      expect((await s.api('POST', '/tasks', { input: {}, all: true, agent_id: id('f1') })).status).toBe(400)
    })
  })
}
