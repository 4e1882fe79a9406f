/**
 * sidecar/ecosystem.config.cjs without AGENTCOM_AGENT_ID: `pm2 start` of it exits 78 with one
 * line saying what is missing, and pm2 runs nothing (it used to run the sidecar as agent-1).
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PM2_BIN, createPm2Sandbox, type Pm2Sandbox } from '../../support/pm2.ts'

const ROOT = join(import.meta.dirname, '../..')
let sandbox: Pm2Sandbox

beforeAll(async () => {
  sandbox = await createPm2Sandbox()
  await sandbox.pm2(['ping'])
})
afterAll(() => sandbox?.kill())

describe('sidecar/ecosystem.config.cjs', () => {
  it('exits 78 with one clear line when AGENTCOM_AGENT_ID is missing, and starts nothing', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PM2_HOME: sandbox.home, PM2_SILENT: 'true' }
    delete env.AGENTCOM_AGENT_ID
    delete env.pm_id
    const failure = await promisify(execFile)(process.execPath, [PM2_BIN, 'start', join(ROOT, 'sidecar/ecosystem.config.cjs')], { env })
      .then(() => null, (err: { code: number; stderr: string }) => err)
    expect(failure?.code).toBe(78)
    expect(failure?.stderr).toContain('agentcom: AGENTCOM_AGENT_ID is required (e.g. AGENTCOM_AGENT_ID=worker-1 pm2 start sidecar/ecosystem.config.cjs)\n')
    expect(await sandbox.list()).toEqual([])
  })
})
