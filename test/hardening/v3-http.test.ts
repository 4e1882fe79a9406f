/**
 * Hardening (v3), the HTTP side, on real hub processes (Node and Deno): an upgrade anywhere
 * but /ws is refused before any route runs, a hub-secret open to others stops the hub, and
 * slow clients are cut off (headers within 10 s, body within 30 s, idle keep-alive 60 s).
 */
import { spawn } from 'node:child_process'
import { chmod, mkdtemp, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { identifiedSocket } from '../../support/ws-client.ts'
import { recordFigures } from './support/figures.ts'
import { RUNTIMES } from './support/scale.ts'

const ROOT = join(import.meta.dirname, '..', '..')
const hubs: HubProcess[] = []
afterEach(async () => {
  for (const hub of hubs.splice(0)) await hub.stop()
})

async function hubOn(runtime: (typeof RUNTIMES)[number], env: Record<string, string> = {}) {
  const hub = await startHubProcess(env, runtime)
  hubs.push(hub)
  return hub
}

/** An upgrade's fate: the HTTP status that refused it, 'open', or 'no answer' within `ms`. */
function upgradeFate(url: string, headers: Record<string, string>, ms: number): Promise<number | 'open' | 'no answer'> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { headers, handshakeTimeout: ms })
    const timer = setTimeout(() => {
      socket.terminate()
      resolve('no answer')
    }, ms)
    socket.once('open', () => {
      clearTimeout(timer)
      socket.terminate()
      resolve('open')
    })
    socket.once('unexpected-response', (_req, res) => {
      clearTimeout(timer)
      res.resume()
      resolve(res.statusCode ?? 0)
      socket.terminate()
    })
    socket.once('error', () => {})
  })
}

describe.each(RUNTIMES)('hardening v3, HTTP (%s hub)', (runtime) => {
  it('refuses a WebSocket upgrade to /api/admin/events (or any path but /ws) before any route runs', async () => {
    const hub = await hubOn(runtime)
    const admin = { authorization: `Bearer ${await hub.adminToken()}` }
    const started = Date.now()
    expect(await upgradeFate(`${hub.wsUrl.replace(/\/ws$/, '')}/api/admin/events`, admin, 5000)).toBe(404)
    expect(await upgradeFate(`${hub.wsUrl.replace(/\/ws$/, '')}/health`, {}, 5000)).toBe(404)
    expect(await upgradeFate(`${hub.wsUrl.replace(/\/ws$/, '')}/`, {}, 5000)).toBe(404)
    const refusedMs = Date.now() - started
    expect(await upgradeFate(hub.wsUrl, {}, 5000)).toBe('open')
    // The hub is still itself: no stream read into memory, answers at once.
    expect((await hub.api('GET', '/api/admin/agents')).status).toBe(200)
    await recordFigures(`v3-upgrade-elsewhere-${runtime}`, { refused_status: 404, three_refusals_ms: refusedMs })
  })

  it('marks the streams under /api/ no-store and nosniff as every API answer: the events and a task\'s output', async () => {
    const hub = await hubOn(runtime)
    const headers = { authorization: `Bearer ${await hub.adminToken()}` }
    const task = await hub.api('POST', '/api/admin/tasks', { input: {} })
    expect(task.status).toBe(201)
    for (const path of ['/api/admin/events', `/api/admin/tasks/${task.body.task_id}/output?follow=1`]) {
      const stream = new AbortController()
      const res = await fetch(`${hub.url}${path}`, { headers, signal: stream.signal })
      expect([path, res.status, res.headers.get('content-type')]).toEqual([path, 200, 'text/event-stream'])
      expect([path, res.headers.get('cache-control'), res.headers.get('x-content-type-options')]).toEqual([path, 'no-store', 'nosniff'])
      stream.abort()
    }
  })

  it('refuses to start with a hub-secret readable by group or others: exit 78, one line saying why', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'agentcom-secret-'))
    const path = join(dataDir, 'hub-secret')
    await writeFile(path, `${'a'.repeat(64)}\n`)
    await chmod(path, 0o644)
    const cmd = runtime === 'deno'
      ? [join(ROOT, 'node_modules/.bin/deno'), ['run', '--config', join(ROOT, 'deno.json'), '--allow-net', '--allow-env', '--allow-read', '--allow-write', join(ROOT, 'hub/deno.ts')]] as const
      : [process.execPath, ['--import', 'tsx', join(ROOT, 'hub/node.ts')]] as const
    const { AGENTCOM_SECRET: _unset, ...env } = process.env
    const child = spawn(cmd[0], [...cmd[1]], { cwd: ROOT, env: { ...env, PORT: '0', AGENTCOM_DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    let stdout = ''
    child.stderr!.on('data', (d) => (stderr += d))
    child.stdout!.on('data', (d) => (stdout += d))
    const code = await new Promise((resolve) => child.once('exit', resolve))
    expect(code).toBe(78)
    expect(stderr).toBe(`agentcom hub: ${path} is open to group or others (mode 0644): make it readable by its owner only (chmod 600 ${path})\n`)
    expect(stdout).not.toContain('hub listening')
  })

  it('cuts slow clients (Node; Deno measured): headers within 10 s, body within 30 s, an idle keep-alive within 60 s; streams and sockets stay', async () => {
    const hub = await hubOn(runtime)
    const { port } = new URL(hub.url)
    const token = await hub.adminToken()
    /** A raw connection that sends `first`, then `drip` every 2 s; resolves with when the hub closed it (ms). */
    const slow = (first: string, drip = '', keepMs = 65_000) => new Promise<number>((resolve) => {
      const started = Date.now()
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(first))
      const timer = drip ? setInterval(() => socket.write(drip), 2000) : null
      const give = setTimeout(() => socket.destroy(), keepMs)
      socket.on('data', () => {})
      socket.on('error', () => {})
      socket.once('close', () => {
        if (timer) clearInterval(timer)
        clearTimeout(give)
        resolve(Date.now() - started)
      })
    })
    const events = fetch(`${hub.url}/api/admin/events`, { headers: { authorization: `Bearer ${token}` } })
    const agent = await identifiedSocket(hub.wsUrl, 'patient', await hub.agentToken('patient'))
    const pinging = setInterval(() => agent.send({ type: 'ping' }), 10_000)
    const [headersMs, bodyMs, idleMs] = await Promise.all([
      slow('GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: '),
      slow(`POST /api/admin/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Length: 1000\r\n\r\n{"input":"`, 'x'),
      slow('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'),
    ])
    clearInterval(pinging)
    // Once the slow ones are cut: the events stream still reads, the agent still answers.
    const stream = (await events).body!.getReader()
    expect((await stream.read()).done).toBe(false)
    await stream.cancel()
    agent.send({ type: 'ping' })
    expect(await agent.next('pong')).toEqual({ type: 'pong' })
    agent.ws.terminate()
    // Still serving everyone else.
    expect((await fetch(`${hub.url}/health`)).status).toBe(200)
    await recordFigures(`v3-slow-clients-${runtime}`, { headers_closed_ms: headersMs, body_closed_ms: bodyMs, idle_keepalive_closed_ms: idleMs, given_up_at_ms: 65_000 })
    // Deno.serve (2.9.6) has no header, request or idle timeout and no way to close a connection
    // from the handler's side: measured and documented (docs/reliability.md), not held.
    if (runtime === 'deno') return
    expect(headersMs).toBeGreaterThanOrEqual(9_000)
    expect(headersMs).toBeLessThanOrEqual(12_500)
    expect(bodyMs).toBeGreaterThanOrEqual(9_000)
    expect(bodyMs).toBeLessThanOrEqual(32_500)
    expect(idleMs).toBeLessThanOrEqual(62_500)
  })
})
