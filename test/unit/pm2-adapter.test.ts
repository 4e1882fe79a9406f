import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../../shared/log.ts'
import type { CommandRunner, RunResult } from '../../sidecar/exec-runner.ts'
import { createPm2Adapter, type Pm2AdapterDeps } from '../../sidecar/pm2.ts'

const fixture = (name: string) => readFileSync(new URL(`../fixtures/pm2/${name}`, import.meta.url), 'utf8')
const TWO_APPS = fixture('jlist-two-apps.json')
const SECRET = 'fixture-secret-do-not-leak'
const ALPHA_STARTED_AT = 1795828692763
const NOW = ALPHA_STARTED_AT + 60_000
const PM2: Pm2AdapterDeps['pm2Command'] = ['/usr/bin/node', '/app/node_modules/pm2/bin/pm2']

interface Call {
  file: string
  args: readonly string[]
  opts: { timeoutMs?: number; env?: Record<string, string> } | undefined
}

/** A runner that records its calls and answers each from `reply`. */
function stubRunner(reply: () => Promise<RunResult> | RunResult) {
  const calls: Call[] = []
  const runner: CommandRunner = {
    run: async (file, args, opts) => {
      calls.push({ file, args, opts })
      return reply()
    },
  }
  return { runner, calls }
}

const ok = (stdout: string): RunResult => ({ stdout, stderr: '', exitCode: 0 })

function setup(opts: {
  env?: Record<string, string | undefined>
  reply?: () => Promise<RunResult> | RunResult
  pid?: number
  timeoutMs?: number
} = {}) {
  const { runner, calls } = stubRunner(opts.reply ?? (() => ok(TWO_APPS)))
  const lines: string[] = []
  const pm2 = createPm2Adapter({
    runner,
    env: opts.env ?? { pm_id: '0' },
    pid: opts.pid ?? 999_999,
    log: createLogger('test', (line) => lines.push(line)),
    clock: { now: () => NOW },
    pm2Command: PM2,
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
  })
  const logs = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  return { pm2, calls, lines, logs }
}

const ALPHA_INFO = {
  name: 'alpha', pm_id: 0, pid: 2807, status: 'online',
  uptime_ms: 60_000, restart_count: 1, memory_bytes: 53805056,
}

describe('outside pm2', () => {
  it.each([
    ['no pm_id', {}],
    ['an empty pm_id', { pm_id: '' }],
  ])('with %s it is unsupervised and never runs pm2', async (_label, env) => {
    const { pm2, calls, lines } = setup({ env: { ...env, name: 'sidecar' } })
    expect(pm2.supervised).toBe(false)
    expect(await pm2.getInfo()).toBeNull()
    expect(await pm2.getStatus()).toBeNull()
    // pm2's `name` is ignored when pm2 did not set pm_id: it is just some variable.
    expect(await pm2.getProcessName()).toBeNull()
    expect(calls).toEqual([])
    expect(lines).toEqual([])
  })

  it('still reports PM2_PROCESS_NAME', async () => {
    const { pm2, calls } = setup({ env: { PM2_PROCESS_NAME: 'worker-1' } })
    expect(await pm2.getProcessName()).toBe('worker-1')
    expect(calls).toEqual([])
  })
})

describe('under pm2', () => {
  it('runs `jlist -s` silently with a 5 s timeout', async () => {
    const { pm2, calls } = setup()
    expect(pm2.supervised).toBe(true)
    await pm2.getInfo()
    expect(calls).toEqual([{
      file: '/usr/bin/node',
      args: ['/app/node_modules/pm2/bin/pm2', 'jlist', '-s'],
      opts: { timeoutMs: 5000, env: { PM2_SILENT: 'true' } },
    }])
  })

  it('passes a configured timeout to the runner', async () => {
    const { pm2, calls } = setup({ timeoutMs: 1234 })
    await pm2.getStatus()
    expect(calls[0]?.opts?.timeoutMs).toBe(1234)
  })

  it('finds itself by pm_id', async () => {
    const { pm2, lines } = setup({ env: { pm_id: '0' }, pid: 1 })
    expect(await pm2.getInfo()).toEqual(ALPHA_INFO)
    expect(await pm2.getStatus()).toBe('online')
    expect(lines).toEqual([])
  })

  it('finds the other app by its pm_id', async () => {
    const { pm2 } = setup({ env: { pm_id: '1' }, pid: 2807 })
    expect(await pm2.getInfo()).toEqual({
      name: 'beta', pm_id: 1, pid: null, status: 'stopped',
      uptime_ms: null, restart_count: 0, memory_bytes: 0,
    })
  })

  it('falls back to its pid when pm_id matches nothing', async () => {
    const { pm2 } = setup({ env: { pm_id: '42' }, pid: 2807 })
    expect(await pm2.getInfo()).toEqual(ALPHA_INFO)
  })

  it('gives null and a warning when it is not in the list', async () => {
    const { pm2, logs } = setup({ env: { pm_id: '42' }, pid: 1 })
    expect(await pm2.getInfo()).toBeNull()
    expect(logs()).toMatchObject([
      { level: 'warn', component: 'test', msg: 'this process is not in pm2 jlist', pm_id: 42, processes: 2 },
    ])
  })

  it('reads output that starts with the daemon banner', async () => {
    const banner = fixture('jlist-banner.txt').replace(/\[\]$/, '')
    const { pm2 } = setup({ reply: () => ok(banner + TWO_APPS) })
    expect(await pm2.getInfo()).toEqual(ALPHA_INFO)
  })
})

describe("infoFromEnv: what pm2 put in the process's environment", () => {
  const PM2_ENV = { pm_id: '3', name: 'agentcom-w-1', restart_time: '2', pm_uptime: String(NOW - 250), status: 'launching' }

  it('gives the running process as online, with its own pid, without running pm2', () => {
    const { pm2, calls } = setup({ env: PM2_ENV, pid: 4242 })
    expect(pm2.infoFromEnv()).toEqual({
      name: 'agentcom-w-1', pm_id: 3, pid: 4242, status: 'online', uptime_ms: 250, restart_count: 2, memory_bytes: null,
    })
    expect(calls).toEqual([])
  })

  it.each([
    ['outside pm2', { ...PM2_ENV, pm_id: undefined }],
    ['without restart_time', { ...PM2_ENV, restart_time: undefined }],
    ['with a garbled pm_uptime', { ...PM2_ENV, pm_uptime: '12x' }],
    ['without a name', { ...PM2_ENV, name: '' }],
  ])('gives null %s', (_case, env) => {
    const { pm2, calls } = setup({ env })
    expect(pm2.infoFromEnv()).toBeNull()
    expect(calls).toEqual([])
  })
})

describe('getProcessName', () => {
  it('prefers PM2_PROCESS_NAME', async () => {
    const { pm2, calls } = setup({ env: { pm_id: '0', PM2_PROCESS_NAME: 'chosen', name: 'injected' } })
    expect(await pm2.getProcessName()).toBe('chosen')
    expect(calls).toEqual([])
  })

  it("then pm2's injected name", async () => {
    const { pm2, calls } = setup({ env: { pm_id: '0', PM2_PROCESS_NAME: '', name: 'injected' } })
    expect(await pm2.getProcessName()).toBe('injected')
    expect(calls).toEqual([])
  })

  it('then the name in jlist', async () => {
    const { pm2, calls } = setup({ env: { pm_id: '1' } })
    expect(await pm2.getProcessName()).toBe('beta')
    expect(calls).toHaveLength(1)
  })
})

describe('failures give null and a warning, never a throw', () => {
  const failing: Array<[string, RunResult, Record<string, unknown>]> = [
    ['a non-zero exit', { stdout: '', stderr: 'boom\n', exitCode: 1 },
      { msg: 'pm2 jlist failed', exit_code: 1, error: null, stderr: 'boom\n' }],
    ['a timeout', { stdout: '', stderr: '', exitCode: null, error: 'timeout' },
      { msg: 'pm2 jlist failed', exit_code: null, error: 'timeout', stderr: '' }],
    ['a missing binary', { stdout: '', stderr: '', exitCode: null, error: 'ENOENT' },
      { msg: 'pm2 jlist failed', exit_code: null, error: 'ENOENT', stderr: '' }],
    ['garbage on stdout', ok('Segmentation fault'),
      { msg: 'pm2 jlist printed no JSON list', bytes: 18 }],
  ]

  it.each(failing)('on %s', async (_label, result, warning) => {
    const { pm2, logs } = setup({ reply: () => result })
    expect(await pm2.getInfo()).toBeNull()
    expect(await pm2.getStatus()).toBeNull()
    expect(await pm2.getProcessName()).toBeNull()
    const expected = { level: 'warn', component: 'test', ...warning }
    expect(logs()).toEqual([
      { time: expect.any(String), ...expected },
      { time: expect.any(String), ...expected },
      { time: expect.any(String), ...expected },
    ])
  })

  it('keeps only the last 200 characters of stderr', async () => {
    const stderr = 'x'.repeat(500) + 'y'.repeat(200)
    const { pm2, logs } = setup({ reply: () => ({ stdout: '', stderr, exitCode: 2 }) })
    expect(await pm2.getInfo()).toBeNull()
    expect(logs()[0]?.stderr).toBe('y'.repeat(200))
  })

  it('on a runner that rejects', async () => {
    const { pm2, logs } = setup({ reply: () => Promise.reject(new Error('spawn E2BIG')) })
    await expect(pm2.getInfo()).resolves.toBeNull()
    expect(logs()).toMatchObject([{ level: 'warn', msg: 'pm2 jlist could not run', error: 'spawn E2BIG' }])
  })
})

describe('secrets', () => {
  it('never logs the environment from jlist', async () => {
    const outputs = [
      ok(TWO_APPS),
      { stdout: TWO_APPS, stderr: '', exitCode: 1 },
      ok(TWO_APPS.slice(0, -1)),
    ]
    for (const result of outputs) {
      const { pm2, lines } = setup({ env: { pm_id: '42' }, reply: () => result })
      expect(await pm2.getInfo()).toBeNull()
      expect(lines).toHaveLength(1)
      expect(lines.join('\n')).not.toContain(SECRET)
    }
    const { pm2 } = setup()
    expect(JSON.stringify(await pm2.getInfo())).not.toContain(SECRET)
  })
})

describe('concurrent callers', () => {
  it('share one jlist run, and the next call after it settles runs again', async () => {
    let release!: (result: RunResult) => void
    const { pm2, calls } = setup({ reply: () => new Promise<RunResult>((resolve) => { release = resolve }) })
    const pending = Promise.all([pm2.getInfo(), pm2.getInfo(), pm2.getInfo(), pm2.getInfo(), pm2.getInfo()])
    const status = pm2.getStatus()
    expect(calls).toHaveLength(1)
    release(ok(TWO_APPS))
    expect(await pending).toEqual(Array(5).fill(ALPHA_INFO))
    expect(await status).toBe('online')
    expect(calls).toHaveLength(1)

    const again = pm2.getInfo()
    expect(calls).toHaveLength(2)
    release({ stdout: '', stderr: '', exitCode: null, error: 'timeout' })
    expect(await again).toBeNull()
  })

  it('run again after a failed run', async () => {
    let reply: RunResult = { stdout: '', stderr: '', exitCode: 1 }
    const { pm2, calls } = setup({ reply: () => reply })
    expect(await Promise.all([pm2.getInfo(), pm2.getInfo()])).toEqual([null, null])
    reply = ok(TWO_APPS)
    expect(await pm2.getInfo()).toEqual(ALPHA_INFO)
    expect(calls).toHaveLength(2)
  })
})
