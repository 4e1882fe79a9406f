/**
 * 1 000 malformed HTTP requests against a real hub process (Node and Deno): bad JSON, wrong
 * shapes, wrong content types, oversized bodies, odd paths and methods, with and without the
 * admin token. Each gets the contract's answer (a JSON `{"error": ...}` with the right status,
 * never a 5xx, never the token), the hub stays up, and an agent with a task in flight is not
 * disturbed. Replay a run with AGENTCOM_FUZZ_SEED=<seed>.
 */
import http from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { identifiedSocket } from '../../support/ws-client.ts'
import { waitFor } from '../../support/wait.ts'
import { createRng, SEED } from './support/random.ts'
import { fuzzRequest, type FuzzRequest } from './support/http-fuzz.ts'
import { recordFigures } from './support/figures.ts'
import { RUNTIMES, sizes } from './support/scale.ts'

const MAX_BODY_BYTES = 1024 * 1024
const CONCURRENCY = 8

interface Answer {
  status: number
  contentType: string
  text: string
}

/** One request over its own connection; an oversized body is cut short once the answer is in. */
function send(port: number, r: FuzzRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let answered = false
    const req = http.request({ host: '127.0.0.1', port, method: r.method, path: r.path, headers: { connection: 'close', ...r.headers }, agent: false })
    req.on('response', (res) => {
      answered = true
      const chunks: Buffer[] = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8') })
        req.destroy()
      })
    })
    // The hub may close while an oversized body is still being written: only the answer counts.
    req.on('error', (err) => {
      if (!answered) reject(new Error(`${r.method} ${r.path.slice(0, 80)}: ${err.message}`))
    })
    if (r.body === undefined) return void req.end()
    const body = typeof r.body === 'string' ? Buffer.from(r.body) : r.body
    if (r.chunked) {
      const step = Math.max(1, Math.ceil(body.length / 3))
      for (let at = 0; at < body.length; at += step) req.write(body.subarray(at, at + step))
      req.end()
    } else {
      req.setHeader('content-length', body.length)
      req.end(body)
    }
  })
}

describe.each(RUNTIMES)('malformed HTTP requests (%s hub)', (runtime) => {
  let hub: HubProcess
  let port: number
  beforeAll(async () => {
    hub = await startHubProcess({}, runtime)
    port = Number(new URL(hub.url).port)
  })
  afterAll(async () => {
    await hub?.stop()
  })

  it(`answers ${sizes.httpRequests} malformed requests with the contract's JSON error, and stays up`, async () => {
    const rng = createRng(SEED + (runtime === 'deno' ? 11 : 10))
    const token = await hub.adminToken()
    const auth = { authorization: `Bearer ${token}` }

    const agentId = 'http-bystander'
    const bystander = await identifiedSocket(hub.wsUrl, agentId, await hub.agentToken(agentId))
    const task = (await hub.api('POST', '/api/admin/tasks', { input: { bystander: true }, agent_id: agentId })).body
    bystander.send({ type: 'task_accepted', task_id: (await bystander.next('task_assign')).task_id })
    await waitFor(() => hub.api('GET', `/api/admin/tasks/${task.task_id}`), (r) => r.body.status === 'working', { what: 'bystander task working' })
    const connectedAt = (await hub.api('GET', `/api/admin/agents/${agentId}`)).body.connected_at
    let fuzzing = true
    let pongs = 0
    const heartbeat = (async () => {
      while (fuzzing) {
        bystander.send({ type: 'ping' })
        await bystander.next('pong', 5000)
        pongs++
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    })()

    const requests = Array.from({ length: sizes.httpRequests }, () => fuzzRequest(rng, auth, MAX_BODY_BYTES))
    const wrong: string[] = []
    const statuses: Record<string, number> = {}
    let next = 0
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < requests.length) {
        const r = requests[next++]
        const a = await send(port, r)
        statuses[a.status] = (statuses[a.status] ?? 0) + 1
        let body: any
        try {
          body = JSON.parse(a.text)
        } catch {
          body = undefined
        }
        const error = a.status >= 400 ? body?.error : ''
        const ok = r.expect.some(([status, code]) => status === a.status && code === error) &&
          a.contentType.startsWith('application/json') && !a.text.includes(token) &&
          (a.status !== 400 || (Array.isArray(body?.issues) && body.issues.length > 0))
        if (!ok) wrong.push(`${r.category}: ${r.method} ${r.path.slice(0, 60)} ${r.chunked ? '(chunked) ' : ''}-> ${a.status} ${a.text.slice(0, 120)}; wanted ${JSON.stringify(r.expect)}`)
      }
    }))
    fuzzing = false
    await heartbeat

    expect(wrong.slice(0, 20)).toEqual([])
    expect(Object.keys(statuses).filter((s) => Number(s) >= 500)).toEqual([])

    // The bystander never noticed.
    expect((await hub.api('GET', `/api/admin/agents/${agentId}`)).body).toMatchObject({ connected: true, connected_at: connectedAt })
    bystander.send({ type: 'task_complete', task_id: task.task_id, result: 'done' })
    expect(await bystander.next('task_ack')).toEqual({ type: 'task_ack', task_id: task.task_id })
    expect((await hub.api('GET', `/api/admin/tasks/${task.task_id}`)).body).toMatchObject({ status: 'completed', result: 'done', attempts: 1 })
    bystander.close()

    expect(hub.child.exitCode).toBe(null)
    // Deno's own notice when a request it is serving is aborted (the oversized bodies cut short).
    const denoNotice = /^Deno\.serve: request\.signal aborts on successful responses/
    expect(hub.logs.filter((line) => (!line.startsWith('{') && !denoNotice.test(line)) || line.includes('"level":"error"')).slice(0, 5)).toEqual([])
    const byCategory: Record<string, number> = {}
    for (const r of requests) byCategory[r.category] = (byCategory[r.category] ?? 0) + 1
    await recordFigures(`fuzz-http-${runtime}`, {
      seed: SEED, requests: requests.length, by_category: byCategory, statuses,
      answered_as_owed: requests.length - wrong.length, server_errors: 0, bystander_pongs: pongs,
    })
  })

  const post = async (path: string, body: string) => {
    const res = await send(port, { category: '', method: 'POST', path, headers: { authorization: `Bearer ${await hub.adminToken()}` }, body, expect: [] })
    return { status: res.status, body: JSON.parse(res.text) }
  }

  it('answers a task input nested 20 000 levels deep with 201 or 400, never 500', async () => {
    // Found by this suite: TaskBody measures the input with JSON.stringify, which throws past
    // some thousands of levels on Node's stack, and the route answered 500 internal_error.
    const depth = 20_000
    const res = await post('/api/admin/tasks', `{"input":${'['.repeat(depth)}${']'.repeat(depth)}}`)
    expect([201, 400]).toContain(res.status)
    if (res.status === 400) expect(res.body.error).toBe('invalid_request')
  })

  it.each(['/api/admin/agents/http-bystander/restart', '/api/admin/rollouts', '/api/admin/tasks'])(
    'answers a JSON array body on POST %s with 400 invalid_request (it is not an object)',
    async (path) => {
      // Found by this suite: valibot's object() takes an array, so `[]` passed for `{}` and a
      // rollout of every connected agent started.
      const res = await post(path, '[]')
      expect({ status: res.status, error: res.body.error }).toEqual({ status: 400, error: 'invalid_request' })
    },
  )
})
