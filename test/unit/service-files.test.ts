/**
 * The systemd unit the package carries for `agentcom hub`: systemd-analyze (Debian's systemd
 * package) accepts it without a warning where that program exists, and it runs the hub with
 * its settings in a separate environment file, not restarted on a configuration error.
 */
import { execFile, spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { copyFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '../..')
const UNIT = join(ROOT, 'service/agentcom-hub.service')
const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0

describe('service/agentcom-hub.service', () => {
  it('runs agentcom hub with its settings in /etc/agentcom/hub.env, and never restarts on exit 78', async () => {
    const unit = await readFile(UNIT, 'utf8')
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/env agentcom hub$/m)
    expect(unit).toMatch(/^EnvironmentFile=-\/etc\/agentcom\/hub\.env$/m)
    expect(unit).toMatch(/^RestartPreventExitStatus=78$/m)
    const env = await readFile(join(ROOT, 'service/agentcom-hub.env'), 'utf8')
    const names = env.split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split('=')[0])
    expect(names).toEqual(['HOST', 'PORT', 'AGENTCOM_LOG_LEVEL'])
  })

  it(`is accepted by systemd-analyze verify without a warning${hasSystemdAnalyze ? '' : ' (systemd-analyze is not installed here: checked by the test above only)'}`, async () => {
    if (!hasSystemdAnalyze) return
    const dir = await mkdtemp(join(tmpdir(), 'agentcom-unit-'))
    try {
      copyFileSync(UNIT, join(dir, 'agentcom-hub.service'))
      const { stdout, stderr } = await promisify(execFile)('systemd-analyze', ['verify', join(dir, 'agentcom-hub.service')])
      expect(stderr).toBe('')
      expect(stdout).toBe('')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
