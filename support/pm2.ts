/**
 * A real pm2 daemon in a temporary PM2_HOME, for end-to-end tests. Never ~/.pm2; `kill()`
 * ends the daemon and everything it runs, and must be called in afterAll.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const ROOT = join(import.meta.dirname, '..')
export const PM2_BIN = createRequire(import.meta.url).resolve('pm2/bin/pm2')
export const DEMO_TASK = `"${process.execPath}" "${join(ROOT, 'sidecar/demo-task.mjs')}"`

export interface Pm2Process {
  name: string
  pid: number
  status: string
  restart_time: number
}

export async function createPm2Sandbox() {
  const home = await mkdtemp(join(tmpdir(), 'agentcom-pm2-'))
  const dataDir = join(home, 'data')
  const env: NodeJS.ProcessEnv = { ...process.env, PM2_HOME: home, PM2_SILENT: 'true' }
  delete env.pm_id

  async function pm2(args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
    const { stdout } = await run(process.execPath, [PM2_BIN, ...args], { env: { ...env, ...extraEnv }, timeout: 30_000 })
    return stdout
  }

  return {
    home,
    dataDir,
    pm2,
    /** Starts one sidecar from sidecar/ecosystem.config.cjs, as an operator would. */
    async startSidecar(agentId: string, settings: Record<string, string>): Promise<void> {
      await pm2(['start', join(ROOT, 'sidecar/ecosystem.config.cjs')], {
        AGENTCOM_AGENT_ID: agentId, AGENTCOM_DATA_DIR: dataDir, AGENTCOM_TASK_COMMAND: DEMO_TASK, ...settings,
      })
    },
    /** Starts one sidecar from its pm2 app definition with some of pm2's options changed. */
    async startSidecarWith(agentId: string, settings: Record<string, string>, overrides: Record<string, unknown>): Promise<void> {
      const file = join(home, `${agentId}.config.cjs`)
      const app = `require(${JSON.stringify(join(ROOT, 'sidecar/pm2-app.cjs'))}).sidecarApp({ agentId: ${JSON.stringify(agentId)} })`
      await writeFile(file, `module.exports = { apps: [Object.assign(${app}, ${JSON.stringify(overrides)})] }\n`)
      await pm2(['start', file], {
        AGENTCOM_AGENT_ID: agentId, AGENTCOM_DATA_DIR: dataDir, AGENTCOM_TASK_COMMAND: DEMO_TASK, ...settings,
      })
    },
    async list(): Promise<Pm2Process[]> {
      const out = await pm2(['jlist', '-s'])
      return (JSON.parse(out) as any[]).map((p) => ({
        name: p.name, pid: p.pid, status: p.pm2_env.status, restart_time: p.pm2_env.restart_time,
      }))
    },
    async get(name: string): Promise<Pm2Process> {
      const found = (await this.list()).find((p) => p.name === name)
      if (!found) throw new Error(`no pm2 process ${name}`)
      return found
    },
    async kill(): Promise<void> {
      try {
        await pm2(['kill'])
      } finally {
        await rm(home, { recursive: true, force: true })
      }
    },
  }
}

export type Pm2Sandbox = Awaited<ReturnType<typeof createPm2Sandbox>>
