/**
 * The settings tables are the one source of the README's configuration tables, of createHub's
 * defaults and of the integer messages: this fails when any of them drifts from a table.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError, readInteger, settingsMarkdown } from '../../shared/settings.ts'
import { HUB_SETTINGS } from '../../hub/config/settings.ts'
import { SIDECAR_SETTINGS } from '../../sidecar/config.ts'
import { DEFAULTS } from '../../hub/app.ts'

const README = join(import.meta.dirname, '..', '..', 'README.md')

/** The markdown table that follows `heading` (a line of its own) in the README. */
function tableAfter(readme: string, heading: string): string {
  const lines = readme.slice(readme.indexOf(`\n${heading}\n`)).split('\n')
  const start = lines.findIndex((l) => l.startsWith('|'))
  const end = lines.findIndex((l, i) => i > start && !l.startsWith('|'))
  return lines.slice(start, end).join('\n')
}

describe('settings tables', () => {
  it('README\'s Hub table is the hub settings table', async () => {
    expect(tableAfter(await readFile(README, 'utf8'), 'Hub:')).toBe(settingsMarkdown(HUB_SETTINGS))
  })

  it('README\'s Sidecar table is the sidecar settings table', async () => {
    expect(tableAfter(await readFile(README, 'utf8'), 'Sidecar:')).toBe(settingsMarkdown(SIDECAR_SETTINGS))
  })

  it('createHub\'s defaults are the table\'s', () => {
    expect(DEFAULTS).toMatchObject({
      restartTimeoutMs: HUB_SETTINGS.restartTimeoutS.default * 1000,
      identifyTimeoutMs: HUB_SETTINGS.identifyTimeoutMs.default,
      maxConnections: HUB_SETTINGS.maxConnections.default,
      maxBodyBytes: HUB_SETTINGS.maxBodyBytes.default,
    })
  })

  it('reads an integer within its row\'s range and names the variable and the range otherwise', () => {
    const row = HUB_SETTINGS.port
    expect(readInteger({ PORT: '65535' }, row)).toBe(65535)
    expect(readInteger({ PORT: '' }, row)).toBeUndefined()
    expect(() => readInteger({ PORT: '65536' }, row)).toThrow(new ConfigError('PORT must be an integer from 0 to 65535, got "65536"'))
  })
})
