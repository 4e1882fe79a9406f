/** Healing's settings from the environment (AGENTCOM_HEAL_*, the webhook URL); healing on a hub: healing-hub.test.ts. */
import { describe, expect, it } from 'vitest'
import { hubSettings, resolveHubConfig } from '../../hub/config/config.ts'
import { ConfigError } from '../../shared/settings.ts'
import { resolveHealingSettings } from '../../hub/healing/healing-settings.ts'

describe('healing settings from the environment', () => {
  it('reads every AGENTCOM_HEAL_* variable and leaves unset ones to the defaults', () => {
    expect(hubSettings(resolveHubConfig({})).healing).toEqual({
      crashLimit: undefined, windowS: undefined, maxMemoryMb: undefined, maxConcurrent: undefined, cooldownS: undefined, maxPerAgent: undefined,
    })
    const c = resolveHubConfig({
      AGENTCOM_HEAL_CRASH_LIMIT: '5', AGENTCOM_HEAL_WINDOW_S: '60', AGENTCOM_HEAL_MAX_MEMORY_MB: '256',
      AGENTCOM_HEAL_MAX_CONCURRENT: '2', AGENTCOM_HEAL_COOLDOWN_S: '0', AGENTCOM_HEAL_MAX_PER_AGENT: '1',
      AGENTCOM_ALERT_WEBHOOK_URL: 'https://hooks.example.com/T/B/x',
    })
    expect(hubSettings(c)).toMatchObject({
      healing: { crashLimit: 5, windowS: 60, maxMemoryMb: 256, maxConcurrent: 2, cooldownS: 0, maxPerAgent: 1 },
      alertWebhookUrl: 'https://hooks.example.com/T/B/x',
    })
  })

  it.each([
    ['AGENTCOM_HEAL_CRASH_LIMIT', '0', 'AGENTCOM_HEAL_CRASH_LIMIT must be an integer from 1 to 1000, got "0"'],
    ['AGENTCOM_HEAL_MAX_MEMORY_MB', 'lots', 'AGENTCOM_HEAL_MAX_MEMORY_MB must be an integer from 1 to 1048576, got "lots"'],
    ['AGENTCOM_HEAL_WINDOW_S', '604801', 'AGENTCOM_HEAL_WINDOW_S must be an integer from 1 to 604800, got "604801"'],
  ])('refuses %s=%s at start, naming the variable', (name, value, message) => {
    expect(() => resolveHubConfig({ [name]: value })).toThrow(new ConfigError(message))
  })

  it.each(['ftp://example.com/x', 'not a url', 'hooks.example.com/secret'])('refuses the webhook URL %j without echoing it', (url) => {
    let message = ''
    try {
      resolveHubConfig({ AGENTCOM_ALERT_WEBHOOK_URL: url })
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError)
      message = (err as Error).message
    }
    expect(message).toBe('AGENTCOM_ALERT_WEBHOOK_URL must be an http:// or https:// URL')
  })

  it('spreads the defaults and names a bad setting given in code', () => {
    expect(resolveHealingSettings()).toEqual({ crashLimit: 3, windowS: 600, maxMemoryMb: null, maxConcurrent: 1, cooldownS: 300, maxPerAgent: 3 })
    expect(() => resolveHealingSettings({ maxConcurrent: 0 })).toThrow(/^AGENTCOM_HEAL_MAX_CONCURRENT must be an integer from 1 to 10000, got 0$/)
    expect(() => resolveHealingSettings({ windowS: 1.5 })).toThrow(/^AGENTCOM_HEAL_WINDOW_S must be an integer from 1 to 604800, got 1.5$/)
  })
})
