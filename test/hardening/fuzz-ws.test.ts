/**
 * 10 000 fuzzed WebSocket frames against a real hub process with its default limits (Node and
 * Deno), before and after identify: every one is answered as the contract says (after
 * identify a bad frame gets an `error` and the socket stays open; before it, a socket may send
 * one frame: answered, then closed 4008, or 1009 over 16 KiB), the hub never crashes or logs an error, and five
 * agents with tasks in flight keep their connections, their pongs and their tasks throughout.
 * Replay a run with AGENTCOM_FUZZ_SEED=<seed> (printed with the figures).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { identifiedSocket, openSocket, type TestSocket } from '../../support/ws-client.ts'
import { waitFor } from '../../support/wait.ts'
import { createRng, SEED } from './support/random.ts'
import { fuzzFrame, type FuzzFrame } from './support/ws-fuzz.ts'
import { percentile, recordFigures } from './support/figures.ts'
import { RUNTIMES, sizes } from './support/scale.ts'

/** Frames per socket: with identify and a sentinel, under the default budget of 100 a second. */
const PER_SESSION = 90
const CONCURRENCY = 8
const BYSTANDERS = 5

interface Session {
  index: number
  identified: boolean
  frames: FuzzFrame[]
}

const keyOf = (reply: any) => (reply.type === 'error' ? `error:${reply.error}` : reply.type)

describe.each(RUNTIMES)('fuzzed WebSocket frames (%s hub)', (runtime) => {
  let hub: HubProcess
  beforeAll(async () => {
    hub = await startHubProcess({}, runtime)
  })
  afterAll(async () => {
    await hub?.stop()
  })

  /**
   * A socket not identified may send one frame: the answer it was owed, then close 4008; or,
   * over 16 KiB, close 1009 with no answer.
   */
  async function runFirstFrame(session: Session): Promise<string[]> {
    const socket = await openSocket(hub.wsUrl)
    const [frame] = session.frames
    const replies: any[] = []
    socket.ws.on('message', (data) => replies.push(JSON.parse(data.toString())))
    socket.ws.send(frame.data, { binary: frame.binary })
    let timer: ReturnType<typeof setTimeout> | undefined
    const closed = await Promise.race([socket.closed, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 10_000)))])
    clearTimeout(timer)
    socket.ws.terminate()
    const bytes = typeof frame.data === 'string' ? Buffer.byteLength(frame.data) : frame.data.length
    const what = `session ${session.index} (first frame, ${frame.category}, ${bytes} bytes)`
    if (!closed) return [`${what}: not closed within 10 s`]
    if (bytes > 16 * 1024) return closed.code === 1009 && replies.length === 0 ? [] : [`${what}: ${closed.code} ${JSON.stringify(replies).slice(0, 200)}`]
    const owed = 'error' in frame.expect ? frame.expect.error : []
    const ok = closed.code === 4008 && replies.length === 1 && replies[0].type === 'error' && owed.includes(replies[0].error)
    return ok ? [] : [`${what}: close ${closed.code}, ${JSON.stringify(replies).slice(0, 200)}, owed ${JSON.stringify(frame.expect)}`]
  }

  /** Sends a session's frames on one socket; returns what did not get the answer it was owed. */
  async function runSession(session: Session): Promise<string[]> {
    if (!session.identified) return runFirstFrame(session)
    const socket = await openSocket(hub.wsUrl)
    if (session.identified) {
      const agentId = `fuzz-${session.index}`
      socket.send({ type: 'identify', agent_id: agentId, token: await hub.agentToken(agentId), protocol_version: 1, pm2_info: null, supervised: true })
      await socket.next('identified')
    }
    const replies: any[] = []
    const owed = session.frames.filter((f) => !('none' in f.expect)).length
    const sentinel = `sentinel-${session.index}`
    const complete = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`session ${session.index}: ${replies.length} replies of ${owed + 1} after 30 s`)), 30_000)
      socket.ws.on('message', (data) => {
        replies.push(JSON.parse(data.toString()))
        if (replies.length >= owed + 1 && replies.some((r) => r.detail?.includes(sentinel))) {
          clearTimeout(timer)
          resolve()
        }
      })
      socket.ws.on('close', (code) => {
        clearTimeout(timer)
        reject(new Error(`session ${session.index} closed with ${code} after ${replies.length} replies`))
      })
    })
    for (const frame of session.frames) socket.ws.send(frame.data, { binary: frame.binary })
    socket.send({ type: sentinel })
    await complete
    const problems: string[] = []
    if (socket.ws.readyState !== WebSocket.OPEN) problems.push(`session ${session.index}: socket not open`)

    // Match replies to frames as multisets: acknowledgements may overtake error replies.
    const received = replies.filter((r) => !r.detail?.includes(sentinel)).map(keyOf)
    for (const r of replies) {
      if (r.type === 'error' && (Object.keys(r).some((k) => !['type', 'error', 'detail'].includes(k)) || (r.detail?.length ?? 0) > 203)) {
        problems.push(`session ${session.index}: malformed error ${JSON.stringify(r).slice(0, 300)}`)
      }
    }
    const unmatched: FuzzFrame[] = []
    const take = (key: string) => {
      const at = received.indexOf(key)
      if (at === -1) return false
      received.splice(at, 1)
      return true
    }
    const single = session.frames.filter((f) => !('error' in f.expect) || f.expect.error.length === 1)
    const multi = session.frames.filter((f) => 'error' in f.expect && f.expect.error.length > 1)
    for (const f of single) {
      if ('none' in f.expect) continue
      if (!take('error' in f.expect ? `error:${f.expect.error[0]}` : f.expect.reply)) unmatched.push(f)
    }
    for (const f of multi) if (!('error' in f.expect && f.expect.error.some((code) => take(`error:${code}`)))) unmatched.push(f)
    for (const f of unmatched) problems.push(`session ${session.index} (${session.identified ? 'identified' : 'not identified'}): no ${JSON.stringify(f.expect)} for ${f.category}: ${String(typeof f.data === 'string' ? f.data : `<${f.data.length} bytes>`).slice(0, 120)}`)
    for (const key of received) problems.push(`session ${session.index}: unexpected reply ${key}`)
    socket.close()
    return problems
  }

  it(`answers ${sizes.wsFrames} fuzzed frames as the contract says, never crashes, and leaves other agents alone`, async () => {
    const rng = createRng(SEED + (runtime === 'deno' ? 1 : 0))

    // Bystanders: identified agents, each holding a task in flight, pinging all along.
    const bystanders: { socket: TestSocket; taskId: string }[] = []
    for (let i = 0; i < BYSTANDERS; i++) {
      const agentId = `bystander-${i}`
      const socket = await identifiedSocket(hub.wsUrl, agentId, await hub.agentToken(agentId))
      const task = await hub.api('POST', '/api/admin/tasks', { input: { bystander: i }, agent_id: agentId })
      const assign = await socket.next('task_assign')
      expect(assign.task_id).toBe(task.body.task_id)
      socket.send({ type: 'task_accepted', task_id: assign.task_id })
      bystanders.push({ socket, taskId: assign.task_id })
    }
    for (const b of bystanders) await waitFor(() => hub.api('GET', `/api/admin/tasks/${b.taskId}`), (r) => r.body.status === 'working', { what: 'bystander task working' })
    const connectedAt = (await hub.api('GET', '/api/admin/agents')).body.agents
      .filter((a: any) => a.agent_id.startsWith('bystander-')).map((a: any) => [a.agent_id, a.connected_at])

    let fuzzing = true
    const latencies: number[] = []
    const heartbeats = bystanders.map(async ({ socket }) => {
      while (fuzzing) {
        const sent = Date.now()
        socket.send({ type: 'ping' })
        await socket.next('pong', 5000)
        latencies.push(Date.now() - sent)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    })

    const sessions: Session[] = []
    for (let sent = 0; sent < sizes.wsFrames;) {
      // Before identify a socket may send one frame: about a tenth of the frames go one to a socket.
      const identified = !rng.chance(0.9)
      const n = identified ? Math.min(PER_SESSION, sizes.wsFrames - sent) : 1
      sessions.push({ index: sessions.length, identified, frames: Array.from({ length: n }, () => fuzzFrame(rng, identified)) })
      sent += n
    }
    const started = Date.now()
    const problems: string[] = []
    let next = 0
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < sessions.length) problems.push(...await runSession(sessions[next++]))
    }))
    const fuzzMs = Date.now() - started

    // Frames the WebSocket layer itself refuses: over 256 KiB, and text that is not UTF-8.
    const oversizeCloses: number[] = []
    const badUtf8Closes: number[] = []
    for (let i = 0; i < 20; i++) {
      const big = await openSocket(hub.wsUrl)
      big.ws.send(rng.chance(0.5) ? JSON.stringify({ type: 'ping', pad: 'x'.repeat(256 * 1024 + rng.int(0, 65536)) }) : rng.bytes(256 * 1024 + 1 + rng.int(0, 65536)))
      oversizeCloses.push((await big.closed).code)
      const bad = await openSocket(hub.wsUrl)
      bad.ws.send(Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0xff, 0x22, 0x7d]), { binary: false })
      badUtf8Closes.push((await bad.closed).code)
    }
    fuzzing = false
    await Promise.all(heartbeats)

    expect(problems.slice(0, 20)).toEqual([])
    expect(oversizeCloses).toEqual(oversizeCloses.map(() => 1009))
    // RFC 6455 says 1007; Deno's server drops the connection instead (1006). Either way only that socket.
    expect(badUtf8Closes.every((code) => code === 1007 || code === 1006)).toBe(true)

    // The bystanders: same connections, their tasks finish normally.
    const after = (await hub.api('GET', '/api/admin/agents')).body.agents
      .filter((a: any) => a.agent_id.startsWith('bystander-')).map((a: any) => [a.agent_id, a.connected_at])
    expect(after).toEqual(connectedAt)
    for (const b of bystanders) {
      b.socket.send({ type: 'task_complete', task_id: b.taskId, result: { ok: true } })
      expect(await b.socket.next('task_ack')).toEqual({ type: 'task_ack', task_id: b.taskId })
      expect((await hub.api('GET', `/api/admin/tasks/${b.taskId}`)).body).toMatchObject({ status: 'completed', result: { ok: true }, attempts: 1 })
      b.socket.close()
    }

    // The hub: alive, healthy, and no error or unstructured line in its logs.
    expect(hub.child.exitCode).toBe(null)
    expect((await fetch(`${hub.url}/health`)).status).toBe(200)
    const unstructured = hub.logs.filter((line) => !line.startsWith('{'))
    expect(unstructured.slice(0, 5)).toEqual([])
    expect(hub.logs.filter((line) => line.includes('"level":"error"'))).toEqual([])

    const byCategory: Record<string, number> = {}
    for (const s of sessions) for (const f of s.frames) byCategory[f.category] = (byCategory[f.category] ?? 0) + 1
    await recordFigures(`fuzz-ws-${runtime}`, {
      seed: SEED,
      frames: sizes.wsFrames + oversizeCloses.length + badUtf8Closes.length,
      by_category: { ...byCategory, 'over 256 KiB': oversizeCloses.length, 'invalid UTF-8 text': badUtf8Closes.length },
      before_identify: sessions.filter((s) => !s.identified).reduce((n, s) => n + s.frames.length, 0),
      after_identify: sessions.filter((s) => s.identified).reduce((n, s) => n + s.frames.length, 0),
      sockets: sessions.length,
      answered_as_owed: sizes.wsFrames - problems.length,
      over_256KiB_closed_1009: oversizeCloses.filter((c) => c === 1009).length,
      invalid_utf8_close_codes: [...new Set(badUtf8Closes)],
      fuzz_ms: fuzzMs,
      bystander_pings: latencies.length,
      bystander_pong_ms: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: Math.max(...latencies) },
      bystander_reconnects: 0,
      hub_crashes: 0,
    })
  })
})
