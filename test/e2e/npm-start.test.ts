/**
 * `npm start`'s own layout (scripts/start.ts): the hub and two demo sidecars under pm2-runtime
 * sharing one data dir. Started as root, a demo task runs as an unprivileged user and can read
 * neither the hub's secret, nor a token, nor the environment of a process of root's; started as
 * anyone else, it says that the tasks run as that user.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, describe, expect, it } from 'vitest'
import { waitFor } from '../../support/wait.ts'
import { freePort } from '../../support/free-port.ts'

const ROOT = join(import.meta.dirname, '../..')
let child: ChildProcess | null = null
let dataDir = ''

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve))
    process.kill(-child.pid!, 'SIGINT') // Ctrl-C reaches the whole foreground group
    await exited
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})


/** The pids whose command line includes `needle` (and, given `env`, whose environment holds it), with their uid. */
async function processes(needle: string, env?: string): Promise<{ pid: number; uid: number }[]> {
  const found: { pid: number; uid: number }[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')
    if (!cmdline.includes(needle)) continue
    // Other tests may run demo tasks at the same time: only this test's task counts.
    if (env !== undefined && !(await readFile(`/proc/${entry}/environ`, 'utf8').catch(() => '')).split('\0').includes(env)) continue
    const status = await readFile(`/proc/${entry}/status`, 'utf8').catch(() => '')
    const uid = /^Uid:\s+(\d+)/m.exec(status)
    if (uid) found.push({ pid: Number(entry), uid: Number(uid[1]) })
  }
  return found
}

describe('npm start', () => {
  it('keeps the hub secret, the tokens and root processes out of a demo task\'s reach', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'agentcom-start-'))
    const port = await freePort()
    child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, AGENTCOM_DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', AGENTCOM_SECRET: '' },
    })
    const lines: string[] = []
    createInterface({ input: child.stderr! }).on('line', (line) => lines.push(line))
    const banner = await new Promise<string[]>((resolve, reject) => {
      createInterface({ input: child!.stdout! }).on('line', (line) => {
        lines.push(line)
        if (line.startsWith('Ctrl-C stops everything.')) resolve(lines.filter((l) => !l.startsWith('{')))
      })
      child!.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${lines.join('\n')}`)))
    })
    const token = banner.find((l) => l.startsWith('Admin token:'))!.split(/\s+/)[2]
    // pm2 offers ts-node to a .ts script and, missing (Node < 22.18), says so as if it were an
    // error; the hub runs under tsx and needs nothing more (npm install is the only set-up step).
    expect(lines.filter((l) => l.includes('TypeScript support unavailable'))).toEqual([])
    const api = async (method: string, path: string, body?: unknown): Promise<any> => {
      const res = await fetch(`http://127.0.0.1:${port}/api/admin${path}`, { method, headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(body) })
      return res.json()
    }
    await waitFor(() => api('GET', '/agents'), (r) => r.agents?.filter((a: any) => a.status === 'idle').length === 2, { what: 'demo agents idle', timeoutMs: 40_000 })

    if (process.getuid?.() !== 0) {
      expect(banner).toContain('Demo tasks:    run as your own user and can read what you can (start as root to run them as nobody)')
      return
    }
    expect(banner).toContain(`Demo tasks:    run as nobody in ${join(tmpdir(), 'agentcom-demo-tasks')}`)
    const nobody = { uid: Number(spawnSync('id', ['-u', 'nobody']).stdout), gid: Number(spawnSync('id', ['-g', 'nobody']).stdout) }
    // Long enough to look at it; Ctrl-C at the end lets it finish first.
    const task = await api('POST', '/tasks', { input: { sleep_ms: 10_000 }, agent_id: 'demo-1' })
    const running = await waitFor(() => processes('demo-task.mjs', `AGENTCOM_TASK_ID=${task.task_id}`), (found) => found.length > 0, { what: 'the demo task running' })
    expect(running.map((p) => p.uid)).toEqual(running.map(() => nobody.uid))
    const rootProcesses = (await processes(ROOT)).filter((p) => p.uid === 0)
    expect(rootProcesses.length).toBeGreaterThanOrEqual(3) // the hub and two sidecars at least
    const secrets = [join(dataDir, 'hub-secret'), join(dataDir, 'tokens', 'demo-1.token'), ...rootProcesses.map((p) => `/proc/${p.pid}/environ`)]
    for (const file of secrets) {
      const read = spawnSync('cat', [file], { uid: nobody.uid, gid: nobody.gid, encoding: 'utf8' })
      expect({ file, status: read.status, stdout: read.stdout }).toEqual({ file, status: 1, stdout: '' })
    }
  })
})
