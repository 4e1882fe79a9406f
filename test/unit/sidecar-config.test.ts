import { describe, expect, it } from 'vitest'
import { resolveSidecarConfig, SIDECAR_DEFAULTS } from '../../sidecar/config.ts'
import { ConfigError } from '../../shared/settings.ts'

const REQUIRED = { AGENTCOM_AGENT_ID: 'worker-1', AGENTCOM_TOKEN: 'tok' }

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
      agentId: 'worker-1',
      token: 'tok',
      dataDir: '.agentcom',
      taskCommand: null,
      processName: null,
      shutdownGraceMs: 25_000,
    })
    expect(SIDECAR_DEFAULTS).toEqual({ hubUrl: 'ws://127.0.0.1:8787/ws', dataDir: '.agentcom', shutdownGraceMs: 25_000 })
  })

  it('reads every setting and ignores unrelated variables', () => {
    expect(resolveSidecarConfig({
      ...REQUIRED,
      AGENTCOM_HUB_URL: 'wss://hub.example.com:8443/ws',
      AGENTCOM_DATA_DIR: '/var/lib/agentcom',
      AGENTCOM_TASK_COMMAND: 'node task.mjs',
      PM2_PROCESS_NAME: 'worker-1',
      AGENTCOM_SHUTDOWN_GRACE_MS: '1500',
      PATH: '/usr/bin',
      UNSET: undefined,
    })).toEqual({
      hubUrl: 'wss://hub.example.com:8443/ws',
      agentId: 'worker-1',
      token: 'tok',
      dataDir: '/var/lib/agentcom',
      taskCommand: 'node task.mjs',
      processName: 'worker-1',
      shutdownGraceMs: 1500,
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
    })).toEqual(resolveSidecarConfig(REQUIRED))
  })

  it.each(['a', 'A.b_c-9', 'x'.repeat(64)])('accepts the agent id %j', (id) => {
    expect(resolveSidecarConfig({ ...REQUIRED, AGENTCOM_AGENT_ID: id }).agentId).toBe(id)
  })

  it.each(['0', '3600000'])('accepts a shutdown grace of %s ms', (ms) => {
    expect(resolveSidecarConfig({ ...REQUIRED, AGENTCOM_SHUTDOWN_GRACE_MS: ms }).shutdownGraceMs).toBe(Number(ms))
  })
})

describe('configuration errors', () => {
  it.each([
    ['nothing set', {}, 'AGENTCOM_AGENT_ID is required'],
    ['no agent id', { AGENTCOM_TOKEN: 'tok' }, 'AGENTCOM_AGENT_ID is required'],
    ['an empty agent id', { AGENTCOM_AGENT_ID: '', AGENTCOM_TOKEN: 'tok' }, 'AGENTCOM_AGENT_ID is required'],
    ['no token', { AGENTCOM_AGENT_ID: 'worker-1' }, 'AGENTCOM_TOKEN is required'],
    ['an empty token', { ...REQUIRED, AGENTCOM_TOKEN: '' }, 'AGENTCOM_TOKEN is required'],
    ['an undefined token', { ...REQUIRED, AGENTCOM_TOKEN: undefined }, 'AGENTCOM_TOKEN is required'],
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
      .toBe('AGENTCOM_HUB_URL must be a ws:// or wss:// URL')
  })

  it.each(['abc', '1.5', '-1', '3600001', ' ', '1e3', '0x10'])('rejects the shutdown grace %j', (ms) => {
    expect(configError({ ...REQUIRED, AGENTCOM_SHUTDOWN_GRACE_MS: ms }).message)
      .toBe('AGENTCOM_SHUTDOWN_GRACE_MS must be an integer from 0 to 3600000')
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
