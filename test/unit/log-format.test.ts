/**
 * AGENTCOM_LOG_LEVEL and AGENTCOM_LOG_FORMAT: JSON lines unless told text (or at a terminal),
 * a level that drops what is below it, a clear configuration error for anything else, and no
 * secret-named field in either form.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createLogger, resolveLogSettings } from '../../shared/log.ts'
import { ConfigError } from '../../shared/settings.ts'

describe('log settings', () => {
  it('default to info, text at a terminal and json elsewhere', () => {
    expect(resolveLogSettings({}, true)).toEqual({ level: 'info', format: 'text' })
    expect(resolveLogSettings({}, false)).toEqual({ level: 'info', format: 'json' })
    expect(resolveLogSettings({ AGENTCOM_LOG_LEVEL: 'debug', AGENTCOM_LOG_FORMAT: 'json' }, true)).toEqual({ level: 'debug', format: 'json' })
    expect(resolveLogSettings({ AGENTCOM_LOG_LEVEL: 'warn', AGENTCOM_LOG_FORMAT: 'text' }, false)).toEqual({ level: 'warn', format: 'text' })
  })

  it('refuse anything else with a configuration error naming the variable', () => {
    expect(() => resolveLogSettings({ AGENTCOM_LOG_LEVEL: 'verbose' }, false)).toThrow(new ConfigError('AGENTCOM_LOG_LEVEL must be debug, info, warn or error'))
    expect(() => resolveLogSettings({ AGENTCOM_LOG_FORMAT: 'xml' }, false)).toThrow(new ConfigError('AGENTCOM_LOG_FORMAT must be json or text'))
  })
})

describe('createLogger', () => {
  afterEach(() => vi.useRealTimers())

  it('writes text as time, level, component, message and fields, with secrets redacted', () => {
    const lines: string[] = []
    const log = createLogger('hub', (line) => lines.push(line), 'info', 'text')
    log.info('agent identified', { agent_id: 'w-1', peer: '10.0.0.1:5000', detail: 'two words', token: 'eyJ.secret.x', n: 3 })
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO  hub: agent identified agent_id=w-1 peer=10\.0\.0\.1:5000 detail="two words" token=\[redacted\] n=3$/)
  })

  it('stamps each line with the time it was written, to the millisecond', () => {
    vi.useFakeTimers({ now: Date.parse('2026-12-07T10:00:00.000Z') })
    const times: string[] = []
    const log = createLogger('hub', (line) => times.push((JSON.parse(line) as { time: string }).time))
    log.info('a')
    log.info('b')
    vi.advanceTimersByTime(1)
    log.info('c')
    vi.setSystemTime(Date.parse('2026-12-07T09:59:59.999Z'))
    log.info('d')
    expect(times).toEqual(['2026-12-07T10:00:00.000Z', '2026-12-07T10:00:00.000Z', '2026-12-07T10:00:00.001Z', '2026-12-07T09:59:59.999Z'])
  })

  it('drops lines below its level, in both forms', () => {
    for (const format of ['json', 'text'] as const) {
      const lines: string[] = []
      const log = createLogger('sidecar:w-1', (line) => lines.push(line), 'warn', format)
      log.debug('d')
      log.info('i')
      log.warn('w', { authorization: 'Bearer x' })
      log.error('e')
      expect(lines).toHaveLength(2)
      expect(lines.join('\n')).not.toContain('Bearer x')
    }
  })
})
