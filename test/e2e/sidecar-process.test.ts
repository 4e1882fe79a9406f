/**
 * The sidecar and token commands as processes: configuration errors, life outside pm2.
 */
import { spawn, execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTokenVerifier } from '../../hub/auth.ts'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { waitFor } from '../../support/wait.ts'

const ROOT = join(import.meta.dirname, '..', '..')
const SIDECAR = [process.execPath, '--import', 'tsx', join(ROOT, 'sidecar/main.ts')] as const
const cleanEnv = () => {
  const env = { ...process.env }
  for (const key of Object.keys(env)) if (key.startsWith('AGENTCOM_') || key === 'pm_id') delete env[key]
  return env
}

function runSidecar(env: NodeJS.ProcessEnv) {
  const child = spawn(SIDECAR[0], SIDECAR.slice(1), { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, exited, out: () => stdout, err: () => stderr }
}

let hub: HubProcess
beforeAll(async () => {
  hub = await startHubProcess()
})
afterAll(async () => {
  await hub?.stop()
})

describe('sidecar configuration', () => {
  it.each([
    [{}, 'AGENTCOM_AGENT_ID is required'],
    [{ AGENTCOM_AGENT_ID: 'a-1' }, 'AGENTCOM_TOKEN is required'],
    [{ AGENTCOM_AGENT_ID: 'a b', AGENTCOM_TOKEN: 't' }, 'AGENTCOM_AGENT_ID must be 1 to 64 characters of A-Za-z0-9._-'],
    [{ AGENTCOM_AGENT_ID: 'a-1', AGENTCOM_TOKEN: 't', AGENTCOM_HUB_URL: 'http://x' }, 'AGENTCOM_HUB_URL must be a ws:// or wss:// URL'],
  ])('stops at start with exit 78 and one line on stderr for %j', async (settings, message) => {
    const run = runSidecar({ ...cleanEnv(), ...settings })
    expect(await run.exited).toBe(78)
    expect(run.err()).toBe(`agentcom sidecar: ${message}\n`)
  })
})

describe('a sidecar outside pm2', () => {
  it('identifies as not supervised, never runs pm2, and is refused a restart (409) without exiting', async () => {
    const home = await mkdtemp(join(tmpdir(), 'agentcom-home-'))
    const run = runSidecar({
      ...cleanEnv(), HOME: home, AGENTCOM_AGENT_ID: 'loose-1', AGENTCOM_TOKEN: await hub.agentToken('loose-1'),
      AGENTCOM_HUB_URL: hub.wsUrl, AGENTCOM_DATA_DIR: join(home, 'data'),
    })
    try {
      const agent = await waitFor(() => hub.api('GET', '/api/admin/agents/loose-1'), (r) => r.body.connected === true)
      expect(agent.body).toMatchObject({ supervised: false, pm2_info: null, status: 'idle' })
      expect(await hub.api('POST', '/api/admin/agents/loose-1/restart')).toEqual({ status: 409, body: { error: 'not_supervised' } })
      expect(run.child.exitCode).toBeNull()
      // pm2 jlist would have spawned a daemon in $HOME/.pm2.
      expect(existsSync(join(home, '.pm2'))).toBe(false)
      const lines = run.out().trim().split('\n').map((line) => JSON.parse(line))
      expect(lines.some((l) => l.msg === 'identified')).toBe(true)
      expect(run.out()).not.toContain(await hub.agentToken('loose-1'))
    } finally {
      run.child.kill('SIGINT')
      expect(await run.exited).toBe(0)
    }
  })
})

describe('token command', () => {
  const token = (args: string[], env: NodeJS.ProcessEnv) =>
    promisify(execFile)('npm', ['run', '--silent', 'token', '--', ...args], { cwd: ROOT, env })

  it('prints one admin token and one agent token, signed with the shared secret file', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'agentcom-token-'))
    const env = { ...cleanEnv(), AGENTCOM_DATA_DIR: dataDir }
    const admin = await token(['admin'], env)
    const agent = await token(['agent', 'worker-7'], env)
    expect(admin.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/)
    expect(admin.stderr).toBe('')
    const { readFile, stat } = await import('node:fs/promises')
    const secret = (await readFile(join(dataDir, 'hub-secret'), 'utf8')).trim()
    expect((await stat(join(dataDir, 'hub-secret'))).mode & 0o777).toBe(0o600)
    const verify = createTokenVerifier(secret)
    expect(await verify(admin.stdout.trim())).toEqual({ role: 'admin' })
    expect(await verify(agent.stdout.trim())).toEqual({ role: 'agent', sub: 'worker-7' })
  })

  it('refuses an invalid agent id', async () => {
    await expect(token(['agent', 'no way'], cleanEnv())).rejects.toMatchObject({
      code: 64, stdout: '', stderr: expect.stringContaining('invalid agent id'),
    })
  })
})
