import { describe, expect, it } from 'vitest'
import { join, resolve } from 'node:path'
import { loadSidecarConfig, plainTextHubHosts, resolveSidecarConfig, SIDECAR_DEFAULTS, type SidecarHost } from '../../sidecar/config.ts'
import { ConfigError } from '../../shared/settings.ts'

const REQUIRED = { AGENTCOM_AGENT_ID: 'worker-1', AGENTCOM_TOKEN: 'tok' }
const REPO = resolve(import.meta.dirname, '..', '..')
const TASK_DIR_MESSAGE = 'AGENTCOM_TASK_DIR must not be the repository, a folder above it, or a folder in it outside the data dir'

/** The ConfigError that `env` produces; fails the test if there is none or it is another error. */
function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    resolveSidecarConfig(env)
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return err as ConfigError
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`)
}

describe('resolveSidecarConfig', () => {
  it('fills in the defaults', () => {
    expect(resolveSidecarConfig(REQUIRED)).toEqual({
      hubUrl: 'ws://127.0.0.1:8787/ws',
      hubUrls: ['ws://127.0.0.1:8787/ws'],
      agentId: 'worker-1',
      token: 'tok',
      tokenFile: null,
      dataDir: '.agentcom',
      taskCommand: null,
      taskDir: resolve('.agentcom/work/worker-1'),
      taskEnv: [],
      taskUser: null,
      processName: null,
      shutdownGraceMs: 25_000,
      statsIntervalMs: 15_000,
      labels: [],
      cancelGraceMs: 10_000,
    })
    expect(SIDECAR_DEFAULTS).toEqual({ hubUrl: 'ws://127.0.0.1:8787/ws', dataDir: '.agentcom', shutdownGraceMs: 25_000, cancelGraceMs: 10_000, statsIntervalMs: 15_000 })
  })

  it('reads every setting and ignores unrelated variables', () => {
    expect(resolveSidecarConfig({
      ...REQUIRED,
      AGENTCOM_HUB_URL: 'wss://hub.example.com:8443/ws',
      AGENTCOM_DATA_DIR: '/var/lib/agentcom',
      AGENTCOM_TASK_COMMAND: 'node task.mjs',
      PM2_PROCESS_NAME: 'worker-1',
      AGENTCOM_SHUTDOWN_GRACE_MS: '1500',
      AGENTCOM_STATS_INTERVAL_MS: '500',
      AGENTCOM_LABELS: ' gpu, region=eu-west ,gpu',
      AGENTCOM_CANCEL_GRACE_MS: '2500',
      AGENTCOM_TASK_ENV: ' HTTP_PROXY, NO_PROXY ,',
      AGENTCOM_TASK_USER: 'nobody',
      PATH: '/usr/bin',
      UNSET: undefined,
    })).toEqual({
      hubUrl: 'wss://hub.example.com:8443/ws',
      hubUrls: ['wss://hub.example.com:8443/ws'],
      agentId: 'worker-1',
      token: 'tok',
      tokenFile: null,
      dataDir: '/var/lib/agentcom',
      taskCommand: 'node task.mjs',
      taskDir: '/var/lib/agentcom/work/worker-1',
      taskEnv: ['HTTP_PROXY', 'NO_PROXY'],
      taskUser: 'nobody',
      processName: 'worker-1',
      shutdownGraceMs: 1500,
      statsIntervalMs: 500,
      labels: ['gpu', 'region=eu-west'],
      cancelGraceMs: 2500,
    })
  })

  it('treats empty strings as unset', () => {
    expect(resolveSidecarConfig({
      ...REQUIRED,
      AGENTCOM_HUB_URL: '',
      AGENTCOM_DATA_DIR: '',
      AGENTCOM_TASK_COMMAND: '',
      PM2_PROCESS_NAME: '',
      AGENTCOM_SHUTDOWN_GRACE_MS: '',
      AGENTCOM_STATS_INTERVAL_MS: '',
    })).toEqual(resolveSidecarConfig(REQUIRED))
  })

  it.each(['a', 'A.b_c-9', 'x'.repeat(64)])('accepts the agent id %j', (id) => {
    expect(resolveSidecarConfig({ ...REQUIRED, AGENTCOM_AGENT_ID: id }).agentId).toBe(id)
  })

  it.each(['0', '3600000'])('accepts a shutdown grace of %s ms', (ms) => {
    expect(resolveSidecarConfig({ ...REQUIRED, AGENTCOM_SHUTDOWN_GRACE_MS: ms }).shutdownGraceMs).toBe(Number(ms))
  })

  it.each(['100', '20000'])('accepts a stats interval of %s ms', (ms) => {
    expect(resolveSidecarConfig({ ...REQUIRED, AGENTCOM_STATS_INTERVAL_MS: ms }).statsIntervalMs).toBe(Number(ms))
  })
})

describe('configuration errors', () => {
  it.each([
    ['nothing set', {}, 'AGENTCOM_AGENT_ID is required'],
    ['no agent id', { AGENTCOM_TOKEN: 'tok' }, 'AGENTCOM_AGENT_ID is required'],
    ['an empty agent id', { AGENTCOM_AGENT_ID: '', AGENTCOM_TOKEN: 'tok' }, 'AGENTCOM_AGENT_ID is required'],
    ['no token', { AGENTCOM_AGENT_ID: 'worker-1' }, 'AGENTCOM_TOKEN or AGENTCOM_TOKEN_FILE is required'],
    ['an empty token', { ...REQUIRED, AGENTCOM_TOKEN: '' }, 'AGENTCOM_TOKEN or AGENTCOM_TOKEN_FILE is required'],
    ['an undefined token', { ...REQUIRED, AGENTCOM_TOKEN: undefined }, 'AGENTCOM_TOKEN or AGENTCOM_TOKEN_FILE is required'],
    ['both a token and a token file', { ...REQUIRED, AGENTCOM_TOKEN_FILE: '/run/t' }, 'set only one of AGENTCOM_TOKEN and AGENTCOM_TOKEN_FILE'],
    ['a task env that is not names', { ...REQUIRED, AGENTCOM_TASK_ENV: 'A,B C' }, 'AGENTCOM_TASK_ENV must be variable names separated by commas'],
    ['a task user with a shell character', { ...REQUIRED, AGENTCOM_TASK_USER: 'x;rm' }, 'AGENTCOM_TASK_USER must be a user name or uid'],
    ['the repository as task dir', { ...REQUIRED, AGENTCOM_TASK_DIR: REPO }, TASK_DIR_MESSAGE],
    ['a folder above the repository as task dir', { ...REQUIRED, AGENTCOM_TASK_DIR: join(REPO, '..') }, TASK_DIR_MESSAGE],
    ['a folder of the repository as task dir', { ...REQUIRED, AGENTCOM_TASK_DIR: join(REPO, 'sidecar') }, TASK_DIR_MESSAGE],
  ])('%s', (_label, env, message) => {
    expect(configError(env).message).toBe(message)
  })

  it.each(['has space', 'slash/y', 'x'.repeat(65), 'ünïcode', 'new\nline'])('rejects the agent id %j', (id) => {
    expect(configError({ ...REQUIRED, AGENTCOM_AGENT_ID: id }).message)
      .toBe('AGENTCOM_AGENT_ID must be 1 to 64 characters of A-Za-z0-9._-')
  })

  it.each([
    'http://127.0.0.1:8787/ws',
    '127.0.0.1:8787',
    'ws://',
    'ws://host name/ws',
    'ws://[::1/ws',
    'ws://hub:99999/ws',
  ])('rejects the hub URL %j', (url) => {
    expect(configError({ ...REQUIRED, AGENTCOM_HUB_URL: url }).message)
      .toBe('AGENTCOM_HUB_URL must be a ws:// or wss:// URL, or several separated by commas')
  })

  it('takes several hub URLs, comma-separated, in order; one bad member refuses them all', () => {
    const config = resolveSidecarConfig({ ...REQUIRED, AGENTCOM_HUB_URL: 'ws://a:1/ws, wss://b:2/ws' })
    expect(config.hubUrls).toEqual(['ws://a:1/ws', 'wss://b:2/ws'])
    expect(config.hubUrl).toBe('ws://a:1/ws')
    expect(configError({ ...REQUIRED, AGENTCOM_HUB_URL: 'ws://a:1/ws,http://b/ws' }).message)
      .toBe('AGENTCOM_HUB_URL must be a ws:// or wss:// URL, or several separated by commas')
    expect(configError({ ...REQUIRED, AGENTCOM_HUB_URL: 'ws://a:1/ws,' }).message)
      .toBe('AGENTCOM_HUB_URL must be a ws:// or wss:// URL, or several separated by commas')
  })

  it.each(['abc', '1.5', '-1', '3600001', ' ', '1e3', '0x10'])('rejects the shutdown grace %j', (ms) => {
    expect(configError({ ...REQUIRED, AGENTCOM_SHUTDOWN_GRACE_MS: ms }).message)
      .toBe('AGENTCOM_SHUTDOWN_GRACE_MS must be an integer from 0 to 3600000')
  })

  it.each(['99', '20001', '0', 'abc', '1e3', ' '])('rejects the stats interval %j', (ms) => {
    expect(configError({ ...REQUIRED, AGENTCOM_STATS_INTERVAL_MS: ms }).message)
      .toBe('AGENTCOM_STATS_INTERVAL_MS must be an integer from 100 to 20000')
  })

  it('is a ConfigError, an Error with a one-line message', () => {
    const err = configError({})
    expect(err).toBeInstanceOf(Error)
    expect(err.message).not.toContain('\n')
  })

  it('never echoes the token', () => {
    const err = configError({ AGENTCOM_TOKEN: 'secret-token-value', AGENTCOM_AGENT_ID: 'bad id' })
    expect(err.message).toBe('AGENTCOM_AGENT_ID must be 1 to 64 characters of A-Za-z0-9._-')
  })
})

describe('loadSidecarConfig: the token file and the task user', () => {
  const host = (over: Partial<SidecarHost> = {}): SidecarHost => ({
    readTextFile: async (path) => {
      if (path === '/run/agent.token') return '  tok-from-file\n'
      if (path === '/run/empty.token') return ' \n'
      throw Object.assign(new Error('no such file'), { code: 'ENOENT' })
    },
    uid: 0,
    lookupUser: async (spec) => (spec === 'worker' || spec === '1001' ? { name: 'worker', uid: 1001, gid: 1002 } : null),
    ...over,
  })
  const FILE = { AGENTCOM_AGENT_ID: 'worker-1', AGENTCOM_TOKEN_FILE: '/run/agent.token' }
  const loadError = async (env: Record<string, string>, h = host()) => {
    const err = await loadSidecarConfig(env, h).then(() => null, (e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigError)
    return (err as ConfigError).message
  }

  it('reads the token from AGENTCOM_TOKEN_FILE, trimmed', async () => {
    const config = await loadSidecarConfig(FILE, host())
    expect(config.token).toBe('tok-from-file')
    expect(config).not.toHaveProperty('tokenFile')
  })

  it('takes AGENTCOM_TOKEN as it is', async () => {
    expect((await loadSidecarConfig(REQUIRED, host())).token).toBe('tok')
  })

  it('refuses a missing or empty token file, naming the variable and never a token', async () => {
    expect(await loadSidecarConfig({ ...FILE, AGENTCOM_TOKEN_FILE: '/run/missing' }, host()).catch((e) => e.message))
      .toBe('AGENTCOM_TOKEN_FILE cannot be read: ENOENT')
    expect(await loadError({ ...FILE, AGENTCOM_TOKEN_FILE: '/run/empty.token' })).toBe('AGENTCOM_TOKEN_FILE names an empty file')
  })

  it('never prints AGENTCOM_TOKEN_FILE\'s value: a token pasted there by mistake stays out of the logs', async () => {
    const pasted = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl'
    const message = await loadSidecarConfig({ ...FILE, AGENTCOM_TOKEN_FILE: pasted }, host()).catch((e) => e.message)
    expect(message).toBe('AGENTCOM_TOKEN_FILE cannot be read: ENOENT')
    expect(message).not.toContain(pasted)
  })

  it('resolves AGENTCOM_TASK_USER when root, by name or uid', async () => {
    expect((await loadSidecarConfig({ ...REQUIRED, AGENTCOM_TASK_USER: 'worker' }, host())).taskUser).toEqual({ name: 'worker', uid: 1001, gid: 1002 })
    expect((await loadSidecarConfig({ ...REQUIRED, AGENTCOM_TASK_USER: '1001' }, host())).taskUser).toMatchObject({ uid: 1001 })
    expect((await loadSidecarConfig(REQUIRED, host())).taskUser).toBeNull()
  })

  it('refuses AGENTCOM_TASK_USER when the sidecar is not root, and an unknown user', async () => {
    expect(await loadError({ ...REQUIRED, AGENTCOM_TASK_USER: 'worker' }, host({ uid: 1000 }))).toBe('AGENTCOM_TASK_USER needs the sidecar to run as root')
    expect(await loadError({ ...REQUIRED, AGENTCOM_TASK_USER: 'ghost' })).toBe('AGENTCOM_TASK_USER names no user on this machine')
  })
})

describe('plain-text hub hosts', () => {
  it('names ws:// hosts that are not loopback, and no wss:// or loopback one', () => {
    expect(plainTextHubHosts('ws://127.0.0.1:8787/ws,ws://localhost/ws,ws://[::1]:1/ws,wss://hub.example.com/ws')).toEqual([])
    expect(plainTextHubHosts('ws://10.0.0.5:8787/ws, wss://b/ws,ws://hub.example.com/ws')).toEqual(['10.0.0.5', 'hub.example.com'])
  })

  it.each([
    ['a b', /^AGENTCOM_LABELS must be a label is `name` or `name=value`/],
    ['gpu=', /^AGENTCOM_LABELS must be a label/],
    ['=x', /^AGENTCOM_LABELS must be a label/],
    ['x=y=z', /^AGENTCOM_LABELS must be a label/],
    ['l'.repeat(65), /^AGENTCOM_LABELS must be a label/],
    [Array.from({ length: 33 }, (_, i) => `l${i}`).join(','), /^AGENTCOM_LABELS must be at most 32 labels \(got 33\)$/],
  ])('refuses AGENTCOM_LABELS=%j', (labels, message) => {
    expect(() => resolveSidecarConfig({ ...REQUIRED, AGENTCOM_LABELS: labels })).toThrow(message)
  })

  it('takes 32 labels of 64-character parts', () => {
    const labels = Array.from({ length: 32 }, (_, i) => `${'n'.repeat(62)}${String(i).padStart(2, '0')}=${'v'.repeat(64)}`)
    expect(resolveSidecarConfig({ ...REQUIRED, AGENTCOM_LABELS: labels.join(',') }).labels).toEqual(labels)
  })
})
