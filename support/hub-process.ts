/**
 * Starts a real hub as its own process, on Node or on Deno, on port 0. Which runtime is one
 * setting: AGENTCOM_TEST_RUNTIME=node|deno (default node), so the same tests prove both.
 * A Node hub runs from source (`node --import tsx hub/node.ts`, as `npm run hub`), or with
 * AGENTCOM_NODE_HUB_BUILD=package as an installed `agentcom hub` runs it: the bundle that
 * `npm run build` writes to dist/package (the bench builds it first and runs that).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { signAdminToken, signAgentToken } from '../hub/auth/auth.ts'

export type Runtime = 'node' | 'deno'
export const RUNTIME: Runtime = process.env.AGENTCOM_TEST_RUNTIME === 'deno' ? 'deno' : 'node'
const ROOT = join(import.meta.dirname, '..')
export const NODE_HUB_BUILD = 'AGENTCOM_NODE_HUB_BUILD'

export interface HubProcess {
  runtime: Runtime
  url: string
  wsUrl: string
  secret: string
  dataDir: string
  /** Every line the hub printed on stdout and stderr, for grepping. */
  logs: string[]
  adminToken(): Promise<string>
  agentToken(agentId: string): Promise<string>
  /** GET/POST an admin route with the admin token; returns status and parsed JSON. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>
  stop(): Promise<void>
  /** SIGKILL: the hub dies without closing anything. */
  crash(): Promise<void>
  child: ChildProcess
}

/** `reuse`: the secret and data dir of an earlier hub, to start it again (PORT in env). */
export async function startHubProcess(
  env: Record<string, string> = {},
  runtime: Runtime = RUNTIME,
  reuse?: { secret: string; dataDir: string },
): Promise<HubProcess> {
  const secret = reuse?.secret ?? randomBytes(32).toString('hex')
  const dataDir = reuse?.dataDir ?? await mkdtemp(join(tmpdir(), 'agentcom-hub-'))
  // A module Deno runs before the hub (the bench's CPU profiler); Node takes its own through NODE_OPTIONS.
  const preload = process.env.AGENTCOM_BENCH_DENO_PRELOAD ? ['--allow-sys', '--preload', process.env.AGENTCOM_BENCH_DENO_PRELOAD] : []
  const cmd = runtime === 'deno'
    ? [join(ROOT, 'node_modules/.bin/deno'), ['run', '--config', join(ROOT, 'deno.json'), '--allow-net', '--allow-env', '--allow-read', '--allow-write', ...preload, join(ROOT, 'hub/deno.ts')]] as const
    : process.env[NODE_HUB_BUILD] === 'package'
      ? [process.execPath, [join(ROOT, 'dist/package/agentcom.js'), 'hub']] as const
      : [process.execPath, ['--import', 'tsx', join(ROOT, 'hub/node.ts')]] as const
  const child = spawn(cmd[0], [...cmd[1]], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', AGENTCOM_SECRET: secret, AGENTCOM_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: string[] = []
  createInterface({ input: child.stderr! }).on('line', (line) => logs.push(line))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub did not start:\n${logs.join('\n')}`)), 30_000)
    createInterface({ input: child.stdout! }).on('line', (line) => {
      logs.push(line)
      if (line.includes('"hub listening"')) {
        clearTimeout(timer)
        resolve(JSON.parse(line).url)
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`hub exited with ${code}:\n${logs.join('\n')}`))
    })
  })
  let admin: string | null = null
  const hub: HubProcess = {
    runtime, url, wsUrl: `${url.replace('http', 'ws')}/ws`, secret, dataDir, logs, child,
    async adminToken() {
      admin ??= await signAdminToken(secret)
      return admin
    },
    agentToken: (agentId) => signAgentToken(secret, agentId),
    async api(method, path, body) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${await hub.adminToken()}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      return { status: res.status, body: await res.json() }
    },
    async crash() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    },
    stop: () => stopChild(child),
  }
  return hub
}

/** SIGTERM, then SIGKILL if the process has not exited within 5 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}
