/**
 * The sidecar figures' stage: one real pm2 daemon in a temporary PM2_HOME running, side by side,
 * real sidecars (sidecar/ecosystem.config.cjs, the built JavaScript) connected to a real Node
 * hub, and bare Node processes (bench/bare/ws-client-node.mjs) each holding one `ws` connection
 * to a bare `ws` server in this process. Every start is timed from the `pm2 start` command to
 * the server's side of it: the hub's `agent identified` line, or the bare server's `connection`.
 */
import { rm } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { WebSocketServer } from 'ws'
import { startHubProcess } from '../../support/hub-process.ts'
import { createPm2Sandbox } from '../../support/pm2.ts'
import { onInterrupt } from './cleanup.ts'
import { watchJsonLines, type LogLine } from './lines.ts'
import { HUB_BENCH_ENV, rssOf } from './servers.ts'
import { sleep } from './stats.ts'

const BARE_CLIENT = join(import.meta.dirname, '..', 'bare', 'ws-client-node.mjs')
const TIMEOUT_MS = 30_000

export interface Started {
  /** pm2's name for it, to delete it. */
  name: string
  pid: number
  /** From `pm2 start` to the server's side of the connection. */
  ms: number
}

export interface Pm2Pair {
  /** A new sidecar, timed to the hub's `agent identified`. */
  startSidecar(): Promise<Started>
  /** A new bare process, timed to the bare server's `connection`. */
  startBare(): Promise<Started>
  remove(started: Started): Promise<void>
}

export async function withPm2Pair<T>(fn: (pair: Pm2Pair) => Promise<T>): Promise<T> {
  const hub = await startHubProcess(HUB_BENCH_ENV, 'node')
  const lines = watchJsonLines(hub.child.stdout!)
  const pm2 = await createPm2Sandbox()
  const bare = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  const release = onInterrupt(async () => {
    await pm2.kill()
    await hub.stop()
  })
  try {
    await new Promise((resolve) => bare.once('listening', resolve))
    const barePort = (bare.address() as AddressInfo).port
    const accepted = new Map<string, () => void>()
    bare.on('connection', (_ws, req: IncomingMessage) => accepted.get(req.url ?? '')?.())
    // The daemon's own start is no part of any figure.
    await pm2.pm2(['ping'])
    let started = 0

    const pair: Pm2Pair = {
      async startSidecar(): Promise<Started> {
        const agentId = `bench-sidecar-${++started}`
        const token = await hub.agentToken(agentId)
        const identified = lines.next((l: LogLine) => l.msg === 'agent identified' && l.agent_id === agentId, TIMEOUT_MS, `${agentId} identified`)
        const t0 = performance.now()
        await pm2.startSidecar(agentId, { AGENTCOM_HUB_URL: hub.wsUrl, AGENTCOM_TOKEN: token })
        await identified
        const ms = performance.now() - t0
        const name = `agentcom-${agentId}`
        return { name, pid: (await pm2.get(name)).pid, ms }
      },
      async startBare(): Promise<Started> {
        const name = `bench-bare-${++started}`
        const path = `/${name}`
        let timer: ReturnType<typeof setTimeout> | undefined
        const connected = new Promise<void>((resolve, reject) => {
          accepted.set(path, resolve)
          timer = setTimeout(() => reject(new Error(`${name} did not connect within ${TIMEOUT_MS} ms`)), TIMEOUT_MS)
        })
        const t0 = performance.now()
        await pm2.pm2(['start', BARE_CLIENT, '--name', name], { BARE_WS_URL: `ws://127.0.0.1:${barePort}${path}` })
        try {
          await connected
        } finally {
          clearTimeout(timer)
          accepted.delete(path)
        }
        const ms = performance.now() - t0
        return { name, pid: (await pm2.get(name)).pid, ms }
      },
      async remove(started: Started): Promise<void> {
        await pm2.pm2(['delete', started.name])
      },
    }
    return await fn(pair)
  } finally {
    release()
    lines.close()
    bare.close()
    try {
      await pm2.kill()
    } finally {
      await hub.stop()
      await rm(hub.dataDir, { recursive: true, force: true })
    }
  }
}

/** RSS once the process has idled `idleMs` and two readings 500 ms apart differ by under 1 %. */
export async function idleRss(pid: number, idleMs: number): Promise<number> {
  await sleep(idleMs)
  let last = rssOf(pid)
  for (let i = 0; i < 20; i++) {
    await sleep(500)
    const now = rssOf(pid)
    if (Math.abs(now - last) < last * 0.01) return now
    last = now
  }
  return last
}
