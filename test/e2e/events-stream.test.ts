/**
 * `GET /api/admin/events` against a real hub process (Node or Deno, per project): `curl -N`
 * as the README prints it, replay and reset over real HTTP, last_seen on every frame, and a
 * hub that stops promptly with streams open.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { identifiedSocket } from '../../support/ws-client.ts'
import { waitFor } from '../../support/wait.ts'

let hub: HubProcess
const children: ChildProcess[] = []

beforeAll(async () => {
  hub = await startHubProcess()
})
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill()
  await hub?.stop()
})

/** Reads an events stream with fetch; `next(kind)` resolves with the next event of that kind. */
async function openStream(headers: Record<string, string> = {}) {
  const controller = new AbortController()
  const res = await fetch(`${hub.url}/api/admin/events`, {
    headers: { authorization: `Bearer ${await hub.adminToken()}`, ...headers }, signal: controller.signal,
  })
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  const events: { id: string; event: string; data: any }[] = []
  async function next(kind?: string) {
    for (;;) {
      const at = events.findIndex((e) => kind === undefined || e.event === kind)
      if (at >= 0) return events.splice(at, 1)[0]
      const r = await reader.read()
      if (r.done) throw new Error('stream ended')
      buffer += r.value
      let end: number
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const field = (name: string) => block.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2)
        const event = field('event')
        if (event) events.push({ id: field('id')!, event, data: JSON.parse(field('data')!) })
      }
    }
  }
  return { res, next, close: () => controller.abort() }
}

describe(`events stream (${process.env.AGENTCOM_TEST_RUNTIME ?? 'node'} hub)`, () => {
  it('works with curl -N as printed in the README', async () => {
    const curl = spawn('curl', ['-N', '-s', '-H', `Authorization: Bearer ${await hub.adminToken()}`, `${hub.url}/api/admin/events`], { stdio: ['ignore', 'pipe', 'inherit'] })
    children.push(curl)
    const lines: string[] = []
    let notify = () => {}
    createInterface({ input: curl.stdout! }).on('line', (line) => {
      lines.push(line)
      notify()
    })
    const seen = (text: string) => new Promise<void>((resolve) => {
      notify = () => { if (lines.some((l) => l.includes(text))) resolve() }
      notify()
    })
    await seen(': agentcom events')
    const agent = await identifiedSocket(hub.wsUrl, 'curl-1', await hub.agentToken('curl-1'))
    await seen('"agent_id":"curl-1"')
    const at = lines.findIndex((l) => l.includes('"agent_id":"curl-1"'))
    expect(lines.slice(at - 2, at + 1).map((l) => l.split(':')[0])).toEqual(['id', 'event', 'data'])
    expect(lines[at - 1]).toBe('event: agent')
    agent.close()
    curl.kill()
  })

  it('replays what a client missed after its Last-Event-ID, and resets an unknown one', async () => {
    const agent = await identifiedSocket(hub.wsUrl, 'replay-1', await hub.agentToken('replay-1'))
    const first = await openStream()
    expect(first.res.headers.get('content-type')).toBe('text/event-stream')
    expect((await hub.api('POST', '/api/admin/agents/replay-1/drain')).status).toBe(200)
    const drained = await first.next('agent')
    expect(drained.data).toMatchObject({ agent_id: 'replay-1', drained: true })
    first.close()

    await hub.api('POST', '/api/admin/agents/replay-1/resume')
    const task = (await hub.api('POST', '/api/admin/tasks', { input: { n: 1 }, agent_id: 'nobody-here' })).body
    const again = await openStream({ 'last-event-id': drained.id })
    // Each change's audit record comes as `event: audit` in between (the events of each kind keep their order).
    expect((await again.next('audit')).data).toMatchObject({ action: 'agent.drain', target: 'replay-1' })
    expect((await again.next('agent')).data).toMatchObject({ agent_id: 'replay-1', drained: false })
    expect((await again.next('task')).data).toMatchObject({ task_id: task.task_id, status: 'queued' })
    again.close()

    const reset = await openStream({ 'last-event-id': 'someone-elses-7' })
    expect((await reset.next()).event).toBe('reset')
    reset.close()
    agent.close()
  })

  it('moves last_seen with every frame, even one the hub refuses', async () => {
    const agent = await identifiedSocket(hub.wsUrl, 'seen-1', await hub.agentToken('seen-1'))
    const t0 = (await hub.api('GET', '/api/admin/agents/seen-1')).body.last_seen
    await waitFor(async () => {
      agent.send({ type: 'no_such_frame' })
      await agent.next('error')
      return (await hub.api('GET', '/api/admin/agents/seen-1')).body.last_seen
    }, (seen) => seen > t0, { what: 'last_seen to move' })
    agent.close()
  })

  it('stops promptly with a stream open: the stream ends and the hub exits 0, not killed', async () => {
    const own = await startHubProcess()
    const res = await fetch(`${own.url}/api/admin/events`, { headers: { authorization: `Bearer ${await own.adminToken()}` } })
    const reader = res.body!.getReader()
    await reader.read()
    const exited = new Promise<number | null>((resolve) => own.child.once('exit', (code) => resolve(code)))
    // stop() sends SIGTERM and SIGKILL 5 s later: exit code 0 means the hub did not wait that out.
    await own.stop()
    expect(await exited).toBe(0)
    // Ended, on Deno with the stream's end; on Node the connection may be cut right after it.
    const ended = async () => { for (;;) if ((await reader.read()).done) return 'ended' }
    expect(await ended().catch(() => 'ended')).toBe('ended')
  })
})
