/**
 * The frame budget on its own, and the limits' settings (environment and createHub options).
 * The limits on a hub's sockets: limits.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { createTestHub } from '../../support/in-process-hub.ts'
import { hubSettings, resolveHubConfig } from '../../hub/config/config.ts'
import { FrameBudget } from '../../hub/sockets/limits.ts'

describe('FrameBudget', () => {
  it('lets a full second\'s worth through at once, then refuses', () => {
    const budget = new FrameBudget(5, 0)
    expect(Array.from({ length: 5 }, () => budget.take(0))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok'])
    expect(budget.take(0)).toBe('limited')
  })

  it('refills one frame every 1000 / perSecond ms', () => {
    const budget = new FrameBudget(5, 0)
    for (let i = 0; i < 5; i++) budget.take(0)
    expect(budget.take(199)).toBe('limited')
    expect(budget.take(200)).toBe('ok')
    expect(budget.take(200)).toBe('limited')
  })

  it('calls a socket abusive at its perSecond-th refused frame', () => {
    const budget = new FrameBudget(5, 0)
    const verdicts = Array.from({ length: 10 }, () => budget.take(0))
    expect(verdicts).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'limited', 'limited', 'limited', 'limited', 'abusive'])
  })

  it('forgives refusals once the budget has refilled completely', () => {
    const budget = new FrameBudget(5, 0)
    for (let i = 0; i < 9; i++) budget.take(0) // 4 refused
    expect(budget.take(999)).toBe('ok') // refilled to 4.995: not full, refusals stand
    for (let i = 0; i < 4; i++) budget.take(999)
    expect(budget.take(999)).toBe('abusive')

    const forgiven = new FrameBudget(5, 0)
    for (let i = 0; i < 9; i++) forgiven.take(0)
    expect(forgiven.take(1000)).toBe('ok') // full again: the count starts over
    for (let i = 0; i < 4; i++) forgiven.take(1000)
    expect(Array.from({ length: 4 }, () => forgiven.take(1000))).toEqual(['limited', 'limited', 'limited', 'limited'])
    expect(forgiven.take(1000)).toBe('abusive')
  })

  it('never lets a steady sender beyond the rate', () => {
    const budget = new FrameBudget(10, 0)
    let ok = 0
    // 20 frames a second for 10 s: the first second's burst plus 10 a second after it.
    for (let t = 0; t < 10_000; t += 50) if (budget.take(t) === 'ok') ok++
    expect(ok).toBeLessThanOrEqual(10 + 100)
    expect(ok).toBeGreaterThanOrEqual(100)
  })
})

describe('limit settings', () => {
  it('leaves every limit to the hub\'s default when unset', () => {
    const c = resolveHubConfig({})
    expect(hubSettings(c)).toMatchObject({ maxConnections: undefined, maxFramesPerS: undefined, maxBodyBytes: undefined })
  })

  it('reads each limit from the environment', () => {
    const c = resolveHubConfig({ AGENTCOM_MAX_CONNECTIONS: '1', AGENTCOM_MAX_FRAMES_PER_S: '1000000', AGENTCOM_MAX_BODY_BYTES: '1024' })
    expect(hubSettings(c)).toMatchObject({ maxConnections: 1, maxFramesPerS: 1_000_000, maxBodyBytes: 1024 })
  })

  it.each([
    ['AGENTCOM_MAX_CONNECTIONS', '0', 'AGENTCOM_MAX_CONNECTIONS must be an integer from 1 to 1000000, got "0"'],
    ['AGENTCOM_MAX_CONNECTIONS', '2.5', 'AGENTCOM_MAX_CONNECTIONS must be an integer from 1 to 1000000, got "2.5"'],
    ['AGENTCOM_MAX_FRAMES_PER_S', '1000001', 'AGENTCOM_MAX_FRAMES_PER_S must be an integer from 1 to 1000000, got "1000001"'],
    ['AGENTCOM_MAX_FRAMES_PER_S', 'fast', 'AGENTCOM_MAX_FRAMES_PER_S must be an integer from 1 to 1000000, got "fast"'],
    ['AGENTCOM_MAX_BODY_BYTES', '1023', 'AGENTCOM_MAX_BODY_BYTES must be an integer from 1024 to 1073741824, got "1023"'],
  ])('refuses %s=%s at start, naming the variable', (name, value, message) => {
    expect(() => resolveHubConfig({ [name]: value })).toThrow(new Error(message))
  })

  it('refuses a limit below 1 in createHub options', () => {
    expect(() => createTestHub({ secret: 's'.repeat(40), maxConnections: 0 }))
      .toThrow(new Error('options.maxConnections must be a positive integer, got 0'))
  })
})
