/**
 * The sidecar and token commands as processes: configuration errors, life outside pm2.
 */
import { spawn, execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTokenVerifier } from '../../hub/auth/auth.ts'
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
    [{ AGENTCOM_AGENT_ID: 'a-1' }, 'AGENTCOM_TOKEN or AGENTCOM_TOKEN_FILE is required'],
    [{ AGENTCOM_AGENT_ID: 'a-1', AGENTCOM_TOKEN: 't', AGENTCOM_TOKEN_FILE: '/nope' }, 'set only one of AGENTCOM_TOKEN and AGENTCOM_TOKEN_FILE'],
    [{ AGENTCOM_AGENT_ID: 'a-1', AGENTCOM_TOKEN_FILE: '/nonexistent/a-1.token' }, 'AGENTCOM_TOKEN_FILE cannot be read: ENOENT'],
    [{ AGENTCOM_AGENT_ID: 'a b', AGENTCOM_TOKEN: 't' }, 'AGENTCOM_AGENT_ID must be 1 to 64 characters of A-Za-z0-9._-'],
    [{ AGENTCOM_AGENT_ID: 'a-1', AGENTCOM_TOKEN: 't', AGENTCOM_HUB_URL: 'http://x' }, 'AGENTCOM_HUB_URL must be a ws:// or wss:// URL, or several separated by commas'],
  ])('stops at start with exit 78 and one line on stderr for %j', async (settings, message) => {
    const run = runSidecar({ ...cleanEnv(), ...settings })
    expect(await run.exited).toBe(78)
    expect(run.err()).toBe(`agentcom sidecar: ${message}\n`)
  })
})

describe('a sidecar outside pm2', () => {
  it('identifies as not supervised, never runs pm2, and is refused a restart (409) without exiting', async () => {
    const home = await mkdtemp(join(tmpdir(), 'agentcom-home-'))
    const agentToken = await hub.agentToken('loose-1')
    // The token comes from a file, as the README tells operators to do it.
    await writeFile(join(home, 'loose-1.token'), `${agentToken}\n`, { mode: 0o600 })
    const run = runSidecar({
      ...cleanEnv(), HOME: home, AGENTCOM_AGENT_ID: 'loose-1', AGENTCOM_TOKEN_FILE: join(home, 'loose-1.token'),
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
      expect(run.out()).not.toContain(agentToken)
      // The hub logged the identify with the peer's address.
      // (Its stdout comes in batches of up to 20 ms: the line may follow the sidecar's.)
      const identifiedHere = (l: string) => l.includes('"msg":"agent identified","agent_id":"loose-1","peer":"127.0.0.1:')
      await waitFor(() => hub.logs.some(identifiedHere), (seen) => seen, { timeoutMs: 5000, what: "the hub's identify line" })
    } finally {
      run.child.kill('SIGINT')
      expect(await run.exited).toBe(0)
    }
  })
})

describe('AGENTCOM_TASK_USER', () => {
  // Both sides of the rule, whichever this machine runs the tests as.
  it(process.getuid?.() === 0 ? 'runs tasks as that user, who cannot read the sidecar\'s token file' : 'is a configuration error when the sidecar is not root', async () => {
    const base = await mkdtemp(join(tmpdir(), 'agentcom-taskuser-'))
    // The task user must be able to reach its task dir; the token file stays root's, 0600.
    await chmod(base, 0o755)
    const agentToken = await hub.agentToken('tu-1')
    await writeFile(join(base, 'tu-1.token'), `${agentToken}\n`, { mode: 0o600 })
    const run = runSidecar({
      ...cleanEnv(), AGENTCOM_AGENT_ID: 'tu-1', AGENTCOM_TOKEN_FILE: join(base, 'tu-1.token'), AGENTCOM_HUB_URL: hub.wsUrl,
      AGENTCOM_DATA_DIR: join(base, 'data'), AGENTCOM_TASK_DIR: join(base, 'work'), AGENTCOM_TASK_USER: 'nobody',
      AGENTCOM_TASK_COMMAND: `echo "$(id -u):$(id -g):$(pwd):$HOME"; cat "${join(base, 'tu-1.token')}" || echo unreadable`,
    })
    if (process.getuid?.() !== 0) {
      expect(await run.exited).toBe(78)
      expect(run.err()).toBe('agentcom sidecar: AGENTCOM_TASK_USER needs the sidecar to run as root\n')
      return
    }
    try {
      await waitFor(() => hub.api('GET', '/api/admin/agents/tu-1'), (r) => r.body.status === 'idle')
      const created = (await hub.api('POST', '/api/admin/tasks', { input: {}, agent_id: 'tu-1' })).body
      const task = await waitFor(() => hub.api('GET', `/api/admin/tasks/${created.task_id}`), (r) => r.body.status === 'completed')
      const nobody = (await promisify(execFile)('id', ['-u', 'nobody'])).stdout.trim()
      const [line, second] = String(task.body.result).split('\n')
      expect(line).toMatch(new RegExp(`^${nobody}:\\d+:${join(base, 'work')}:${join(base, 'work')}$`))
      expect(second).toBe('unreadable')
      expect(JSON.stringify(task.body)).not.toContain(agentToken)
    } finally {
      run.child.kill('SIGINT')
      await run.exited
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
    const adminVerdict = await verify(admin.stdout.trim(), 'admin')
    expect(adminVerdict).toMatchObject({ ok: true, claims: { role: 'admin' } })
    // 24 hours by default.
    const adminExp = (adminVerdict as { claims: { expiresAtMs: number } }).claims.expiresAtMs
    expect(Math.abs(adminExp - Date.now() - 86_400_000)).toBeLessThan(60_000)
    expect(await verify(agent.stdout.trim(), 'agent')).toMatchObject({ ok: true, claims: { role: 'agent', sub: 'worker-7', expiresAtMs: null } })
    expect(await verify(agent.stdout.trim(), 'admin')).toEqual({ ok: false, reason: 'wrong_audience' })
  })

  it('takes --ttl in s, m, h or d, for admin and agent tokens', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'agentcom-token-'))
    const env = { ...cleanEnv(), AGENTCOM_DATA_DIR: dataDir }
    const exp = (out: string) => JSON.parse(Buffer.from(out.trim().split('.')[1], 'base64url').toString()).exp * 1000
    /** The token's lifetime, bounded by the clock before and after its command ran (a loaded machine takes seconds). */
    const lifetime = async (args: string[]) => {
      const before = Date.now()
      const expires = exp((await token(args, env)).stdout)
      return { min: expires - Date.now(), max: expires - before + 1000 }
    }
    const within = (life: { min: number; max: number }, ms: number) => life.min <= ms && ms <= life.max
    expect(within(await lifetime(['admin', '--ttl', '90s']), 90_000)).toBe(true)
    expect(within(await lifetime(['agent', 'w-1', '--ttl', '1d']), 86_400_000)).toBe(true)
    expect(within(await lifetime(['--ttl', '365d', 'agent', 'w-1']), 365 * 86_400_000)).toBe(true)
  })

  it.each([
    [['admin', '--ttl', '366d']], [['admin', '--ttl', '0s']], [['admin', '--ttl', '10']], [['admin', '--ttl', '1w']],
    [['admin', '--ttl']], [['admin', 'extra']], [['agent']], [['agent', 'w-1', '--bogus']], [['root']], [[]],
  ])('refuses %j with the usage on stderr, a non-zero exit and nothing on stdout', async (args) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'agentcom-token-'))
    await expect(token(args, { ...cleanEnv(), AGENTCOM_DATA_DIR: dataDir })).rejects.toMatchObject({
      code: 2, stdout: '', stderr: expect.stringContaining('usage: agentcom token admin [--role viewer|operator|admin] [--name <name>] [--ttl <d>]'),
    })
  })

  it('refuses an invalid agent id', async () => {
    await expect(token(['agent', 'no way'], cleanEnv())).rejects.toMatchObject({
      code: 2, stdout: '', stderr: expect.stringContaining('invalid agent id'),
    })
  })
})
