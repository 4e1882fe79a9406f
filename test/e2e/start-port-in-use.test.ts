/**
 * `npm start` and `npm run start:cluster` on a port another process holds: each says which port
 * and how to pick another, exits 1, and starts nothing (no pm2, no PostgreSQL, no data dir).
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort, freePortPair } from '../../support/free-port.ts'

const ROOT = join(import.meta.dirname, '../..')
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function hold(port: number): Promise<void> {
  const server: Server = createServer()
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve))
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())))
}

async function run(script: string, port: number): Promise<{ code: number | null; stderr: string; dataDir: string }> {
  const parent = await mkdtemp(join(tmpdir(), 'agentcom-port-'))
  cleanups.push(() => rm(parent, { recursive: true, force: true }))
  const dataDir = join(parent, 'data')
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT, detached: true, stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, AGENTCOM_DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1' },
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  // Should it start after all, Ctrl-C stops what it started (the whole group, as a terminal would).
  cleanups.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    process.kill(-child.pid!, 'SIGINT')
    await exited
  })
  let stderr = ''
  child.stderr!.on('data', (chunk) => { stderr += chunk })
  const code = await exited
  return { code, stderr, dataDir }
}

const nothingIn = async (dir: string) => (await readdir(dir).catch(() => [])).length === 0

describe('start commands on a port in use', () => {
  it('npm start names the port, exits 1 and starts nothing', async () => {
    const port = await freePort()
    await hold(port)
    const { code, stderr, dataDir } = await run('scripts/start.ts', port)
    expect(code).toBe(1)
    expect(stderr).toContain(`agentcom: port ${port} on 127.0.0.1 is in use; set PORT to a free one`)
    expect(await nothingIn(dataDir)).toBe(true)
  })

  it('npm run start:cluster checks PORT+1 too', async () => {
    const port = await freePortPair()
    await hold(port + 1)
    const { code, stderr, dataDir } = await run('scripts/start-cluster.ts', port)
    expect(code).toBe(1)
    expect(stderr).toContain(`agentcom: port ${port + 1} on 127.0.0.1 is in use; the cluster's hubs listen on PORT and PORT+1`)
    expect(await nothingIn(dataDir)).toBe(true)
  })
})
