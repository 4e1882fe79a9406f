/**
 * `npm start` and `npm run start:cluster` as a user runs them: in the foreground of a terminal,
 * stopped with Ctrl-C (SIGINT to the whole process group), one after the other on one data
 * dir, in either order. Nothing they started may be left running: every process whose
 * environment names the data dir is counted (Linux /proc).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../../support/wait.ts'
import { freePort, freePortPair } from '../../support/free-port.ts'

const ROOT = join(import.meta.dirname, '..', '..')
let base: string
let dataDir: string

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'agentcom-start-'))
  dataDir = join(base, 'data')
})

afterAll(async () => {
  for (const { pid } of await processesOf(dataDir)) process.kill(pid, 'SIGKILL')
  await rm(base, { recursive: true, force: true })
})

/** Processes whose environment holds AGENTCOM_DATA_DIR=<dir>: their pids and command lines. */
async function processesOf(dir: string): Promise<{ pid: number; cmd: string }[]> {
  const needle = `AGENTCOM_DATA_DIR=${dir}\0`
  const found: { pid: number; cmd: string }[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    const env = await readFile(`/proc/${entry}/environ`, 'utf8').catch(() => '')
    if (!env.includes(needle)) continue
    const cmd = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')
    found.push({ pid: Number(entry), cmd: cmd.replaceAll('\0', ' ').trim() })
  }
  return found
}

async function runUntilCtrlC(script: string, port: number): Promise<{ code: number | null; output: string }> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(ROOT, script)], {
    cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AGENTCOM_DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1' },
  })
  let output = ''
  child.stdout!.on('data', (chunk) => (output += chunk))
  child.stderr!.on('data', (chunk) => (output += chunk))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  await waitFor(async () => output, (text) => text.includes('Ctrl-C stops everything') || child.exitCode !== null, { what: `${script} ready`, timeoutMs: 90_000, intervalMs: 200 })
  expect(child.exitCode, output).toBeNull()
  process.kill(-child.pid!, 'SIGINT')
  const code = await exited
  return { code, output }
}

describe('npm start and npm run start:cluster on one data dir', () => {
  for (const order of [['scripts/start.ts', 'scripts/start-cluster.ts'], ['scripts/start-cluster.ts', 'scripts/start.ts']]) {
    it(`${order.join(' then ')}: each starts, and Ctrl-C leaves nothing running`, async () => {
      for (const script of order) {
        const started = performance.now()
        const { output } = await runUntilCtrlC(script, script.includes('cluster') ? await freePortPair() : await freePort())
        const left = await waitFor(() => processesOf(dataDir), (pids) => pids.length === 0, { what: `nothing of ${script} left`, timeoutMs: 15_000, intervalMs: 250 })
          .catch((err) => ({ err }))
        expect(left, `${script} left processes running:\n${output.slice(-3000)}`).toEqual([])
        expect(performance.now() - started).toBeLessThan(150_000)
      }
    }, 320_000)
  }
})
