/**
 * The servers a figure compares: the hub, started as users start it (support/hub-process.ts),
 * and the bare baselines in bench/bare/, each its own process on port 0, on Node or on Deno.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { startHubProcess, stopChild, type Runtime } from '../../support/hub-process.ts'
import { signAdminToken } from '../../hub/auth/auth.ts'

const ROOT = join(import.meta.dirname, '..', '..')

/** Settings that keep the bench's own choices from limiting the hub. */
export const HUB_BENCH_ENV = {
  // The simulated agents do not ping: they would only add the same load to hub and baseline.
  AGENTCOM_IDLE_TIMEOUT_MS: String(30 * 60_000),
  // Should the hub gain a connection limit, the figures need it well above N.
  AGENTCOM_MAX_CONNECTIONS: '1000000',
}

export interface ServerUnderTest {
  /** e.g. `hub` or `bare ws`. */
  kind: 'hub' | 'bare-ws' | 'bare-hono'
  runtime: Runtime
  url: string
  wsUrl: string
  pid: number
  /** Signs the agents' tokens (the bare servers ignore them, but the frames weigh the same). */
  secret: string
  /** Headers of an admin request: the hub checks them; the bare route gets the same bytes. */
  adminHeaders: Record<string, string>
  /** Path of one agent's admin view and of its restart, with `{id}` for the agent id. */
  agentPath: string
  restartPath: string
  rssBytes(): number
  stop(): Promise<void>
}

/** Resident set size of a process from /proc (Linux). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(kb[1]) * 1024
}

export async function startHub(runtime: Runtime): Promise<ServerUnderTest> {
  const hub = await startHubProcess(HUB_BENCH_ENV, runtime)
  const pid = hub.child.pid!
  return {
    kind: 'hub', runtime, url: hub.url, wsUrl: hub.wsUrl, pid, secret: hub.secret,
    adminHeaders: { authorization: `Bearer ${await hub.adminToken()}` },
    agentPath: '/api/admin/agents/{id}',
    restartPath: '/api/admin/agents/{id}/restart',
    rssBytes: () => rssOf(pid),
    stop: async () => {
      await hub.stop()
      // The hub keeps its logs in memory for tests; a bench holding 10 000 agents does not need them.
      hub.logs.length = 0
      await rm(hub.dataDir, { recursive: true, force: true })
    },
  }
}

export async function startBare(kind: 'bare-ws' | 'bare-hono', runtime: Runtime): Promise<ServerUnderTest> {
  const file = join(ROOT, 'bench/bare', `${kind === 'bare-ws' ? 'ws' : 'hono'}-${runtime}.ts`)
  const [cmd, args] = runtime === 'deno'
    ? [join(ROOT, 'node_modules/.bin/deno'), ['run', '--config', join(ROOT, 'deno.json'), '--allow-net', '--allow-env', '--allow-read', file]]
    : [process.execPath, ['--import', 'tsx', file]]
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} on ${runtime} did not start`)), 30_000)
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.includes('"listening"')) return
      clearTimeout(timer)
      resolve((JSON.parse(line) as { url: string }).url)
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${kind} on ${runtime} exited with ${code}`))
    })
  })
  const secret = randomBytes(32).toString('hex')
  const pid = child.pid!
  return {
    kind, runtime, url, wsUrl: `${url.replace('http', 'ws')}/ws`, pid, secret,
    adminHeaders: { authorization: `Bearer ${await signAdminToken(secret)}` },
    agentPath: '/bare/agents/{id}',
    restartPath: '/bare/agents/{id}/restart',
    rssBytes: () => rssOf(pid),
    stop: () => stopChild(child),
  }
}
