/**
 * A hub that cannot start for a reason outside it says so in one line, no stack trace, on the
 * runtime under test: a port another process holds exits 1 (pm2 tries again; the holder may go
 * away), a data dir it cannot use exits 78 (a setting to fix), and so does a data dir one of
 * whose files it cannot read.
 */
import { createServer, type Server } from 'node:net'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startHubProcess } from '../../support/hub-process.ts'
import { freePort } from '../../support/free-port.ts'
import { TASKS_FILE } from '../../hub/config/config.ts'
import { FLEET_STATE_FILE } from '../../hub/store/fleet-state.ts'
import { AUDIT_FILE } from '../../hub/access/audit-file.ts'
import { REVOCATIONS_FILE } from '../../hub/auth/revocations.ts'
import { JOIN_USES_FILE } from '../../hub/enroll/join-uses.ts'

let held: Server | null = null
afterEach(async () => {
  await new Promise((resolve) => held ? held.close(resolve) : resolve(undefined))
  held = null
})

/** The start's failure: its exit code and the lines it printed that are not log lines (JSON). */
async function failedStart(env: Record<string, string>): Promise<{ code: number; lines: string[] } | null> {
  const failure = await startHubProcess(env).then(async (hub) => {
    await hub.stop()
    await rm(hub.dataDir, { recursive: true, force: true })
    return null
  }, (err: Error) => err.message)
  const exited = failure && /^hub exited with (\d+):/.exec(failure)
  if (!exited) return null
  return { code: Number(exited[1]), lines: failure.split('\n').slice(1).filter((line) => !line.startsWith('{')) }
}

describe('a hub that cannot start', () => {
  it('on a port in use: exits 1 with one line naming the address', async () => {
    const port = await freePort()
    held = createServer()
    await new Promise<void>((resolve, reject) => held!.once('error', reject).listen(port, '127.0.0.1', resolve))
    expect(await failedStart({ PORT: String(port) })).toEqual({
      code: 1,
      lines: [`agentcom hub: cannot listen on 127.0.0.1:${port}: the address is in use (another hub or process holds it; set PORT or HOST)`],
    })
  })

  it('with a data dir under a file: exits 78 with one line naming the setting', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'agentcom-datadir-'))
    try {
      await writeFile(join(parent, 'file'), '')
      const dataDir = join(parent, 'file', 'data')
      const failed = await failedStart({ AGENTCOM_DATA_DIR: dataDir })
      expect(failed?.code).toBe(78)
      expect(failed?.lines).toHaveLength(1)
      expect(failed?.lines[0]).toMatch(new RegExp(`^agentcom hub: AGENTCOM_DATA_DIR ${dataDir} cannot be used: .*[Nn]ot a directory`))
    } finally {
      await rm(parent, { recursive: true, force: true })
    }
  })

  // A directory where the file should be: what a file the hub may not read does to it, and it
  // holds as root too (the tests run as root, which may read any file).
  it.each([REVOCATIONS_FILE, JOIN_USES_FILE, TASKS_FILE, FLEET_STATE_FILE, AUDIT_FILE])(
    'with %s unreadable: exits 78 with one line naming the file', async (file) => {
      const dataDir = await mkdtemp(join(tmpdir(), 'agentcom-datadir-'))
      try {
        await mkdir(join(dataDir, file))
        const failed = await failedStart({ AGENTCOM_DATA_DIR: dataDir })
        expect(failed?.code).toBe(78)
        expect(failed?.lines).toHaveLength(1)
        expect(failed?.lines[0]).toMatch(new RegExp(`^agentcom hub: AGENTCOM_DATA_DIR ${dataDir} cannot be used: .*${dataDir}/${file}\\b`))
        expect(failed?.lines[0]).toMatch(/EISDIR|[Ii]s a directory/)
      } finally {
        await rm(dataDir, { recursive: true, force: true })
      }
    })
})
