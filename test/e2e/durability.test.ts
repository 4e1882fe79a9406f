/**
 * Durability (contract v2) on real hub processes, Node and Deno, with the disk failing for
 * real: the data dir is replaced by a regular file (this fails writes as root too, where a
 * read-only mode would not). A real sidecar process runs tasks that write a ledger line at
 * start and end, so a task lost or run twice shows.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startHubProcess, stopChild, type HubProcess } from '../../support/hub-process.ts'
import { waitFor } from '../../support/wait.ts'

const ROOT = join(import.meta.dirname, '..', '..')
const hubs: HubProcess[] = []
const children: ChildProcess[] = []
afterEach(async () => {
  for (const child of children.splice(0)) await stopChild(child)
  for (const hub of hubs.splice(0)) await hub.stop()
})

async function startHub(env: Record<string, string> = {}, reuse?: { secret: string; dataDir: string }) {
  const hub = await startHubProcess(env, undefined, reuse)
  hubs.push(hub)
  return hub
}

/** The disk under the hub's data dir stops working: the directory is swapped for a file. */
async function breakDisk(dataDir: string): Promise<() => Promise<void>> {
  await rename(dataDir, `${dataDir}.saved`)
  await writeFile(dataDir, 'a file where the data dir was')
  return async () => {
    await rm(dataDir)
    await rename(`${dataDir}.saved`, dataDir)
  }
}

/** A sidecar process (outside pm2) whose task waits for `<work>/go-<task_id>`, with a ledger. */
async function startSidecar(hub: HubProcess, agentId: string) {
  const work = await mkdtemp(join(tmpdir(), 'agentcom-dur-'))
  const ledger = join(work, 'ledger')
  const command = `cat >/dev/null; echo "$AGENTCOM_TASK_ID start" >> '${ledger}'; ` +
    `while [ ! -e "${work}/go-$AGENTCOM_TASK_ID" ]; do sleep 0.05; done; echo "$AGENTCOM_TASK_ID end" >> '${ledger}'; echo '{"done":true}'`
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const key of Object.keys(env)) if (key.startsWith('AGENTCOM_') || key === 'pm_id') delete env[key]
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'sidecar/main.ts')], {
    cwd: ROOT, stdio: 'ignore',
    env: {
      ...env, HOME: work, AGENTCOM_AGENT_ID: agentId, AGENTCOM_TOKEN: await hub.agentToken(agentId),
      AGENTCOM_HUB_URL: hub.wsUrl, AGENTCOM_DATA_DIR: join(work, 'data'), AGENTCOM_TASK_COMMAND: command,
    },
  })
  children.push(child)
  return {
    ledger: async () => (await readFile(ledger, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean),
    finish: (taskId: string) => writeFile(join(work, `go-${taskId}`), ''),
    queueFile: async () => JSON.parse(await readFile(join(work, 'data', `sidecar-${agentId}.queue.json`), 'utf8')),
  }
}

const health = async (hub: HubProcess) => {
  const res = await fetch(`${hub.url}/health`)
  return { status: res.status, body: await res.json() }
}

describe('a corrupt task file at start', () => {
  it('is moved aside to hub-tasks.json.corrupt-*, an error line is logged, and the hub starts', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'agentcom-hub-'))
    await writeFile(join(dataDir, 'hub-tasks.json'), '{"version":1,"tasks":[{"task_id":')
    const hub = await startHub({}, { secret: 'c'.repeat(64), dataDir })
    const aside = (await readdir(dataDir)).filter((f) => f.startsWith('hub-tasks.json.corrupt'))
    expect(aside).toHaveLength(1)
    expect(await readFile(join(dataDir, aside[0]), 'utf8')).toBe('{"version":1,"tasks":[{"task_id":')
    const line = hub.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'task file is corrupt; moved aside, starting with no tasks')
    expect(line).toMatchObject({ level: 'error', moved_to: join(dataDir, aside[0]) })
    expect((await hub.api('POST', '/api/admin/tasks', { input: 1 })).status).toBe(201)
  })
})

describe('saves that fail', () => {
  it('answers 503 storage_unavailable and creates no task; /health is degraded, then ok on its own within 5 s', async () => {
    const hub = await startHub()
    expect(await health(hub)).toEqual({ status: 200, body: { status: 'ok' } })
    const restore = await breakDisk(hub.dataDir)
    const refused = await hub.api('POST', '/api/admin/tasks', { input: { n: 1 } })
    expect(refused).toEqual({ status: 503, body: { error: 'storage_unavailable' } })
    expect(await health(hub)).toMatchObject({ status: 503, body: { status: 'degraded', storage: 'failing' } })
    await restore()
    const back = Date.now()
    await waitFor(() => health(hub), (h) => h.status === 200, { timeoutMs: 5000, what: '/health ok' })
    const recovery = Date.now() - back
    expect((await health(hub)).body).toEqual({ status: 'ok' })
    const saved = JSON.parse(await readFile(join(hub.dataDir, 'hub-tasks.json'), 'utf8'))
    expect(saved.tasks).toEqual([])
    console.log(`[figures] health recovery (${hub.runtime}): ${recovery} ms after the data dir came back`)
  })

  it('keeps a result unacknowledged while saves fail, stores it once they work, even across a SIGKILL of the hub', async () => {
    let hub = await startHub()
    const sidecar = await startSidecar(hub, 'dur-1')
    await waitFor(() => hub.api('GET', '/api/admin/agents/dur-1'), (r) => r.body.connected === true)

    // 1. Saves fail when the result arrives; the disk comes back; no one does anything.
    const t1 = (await hub.api('POST', '/api/admin/tasks', { input: 1 })).body.task_id
    await waitFor(() => hub.api('GET', `/api/admin/tasks/${t1}`), (r) => r.body.status === 'working')
    let restore = await breakDisk(hub.dataDir)
    await sidecar.finish(t1)
    await waitFor(async () => hub.logs.join('\n'), (l) => l.includes('could not save tasks'), { what: 'a failed save' })
    await waitFor(() => sidecar.queueFile(), (q) => q.active?.outcome?.kind === 'complete', { what: 'the outcome on the sidecar disk' })
    await restore()
    await waitFor(() => sidecar.queueFile(), (q) => q.active === null, { timeoutMs: 15_000, what: 'the ack' })
    expect((await hub.api('GET', `/api/admin/tasks/${t1}`)).body).toMatchObject({ status: 'completed', attempts: 1, result: { done: true } })

    // 2. The same, and the hub is killed before the disk comes back.
    const t2 = (await hub.api('POST', '/api/admin/tasks', { input: 2 })).body.task_id
    await waitFor(() => hub.api('GET', `/api/admin/tasks/${t2}`), (r) => r.body.status === 'working')
    restore = await breakDisk(hub.dataDir)
    await sidecar.finish(t2)
    await waitFor(() => sidecar.queueFile(), (q) => q.active?.outcome?.kind === 'complete', { what: 'the outcome on the sidecar disk' })
    await hub.crash()
    await restore()
    hub = await startHub({ PORT: new URL(hub.url).port }, { secret: hub.secret, dataDir: hub.dataDir })
    await waitFor(() => hub.api('GET', `/api/admin/tasks/${t2}`), (r) => r.body.status === 'completed', { timeoutMs: 40_000, what: 't2 completed' })
    expect((await hub.api('GET', `/api/admin/tasks/${t2}`)).body).toMatchObject({ status: 'completed', attempts: 1, result: { done: true } })
    await waitFor(() => sidecar.queueFile(), (q) => q.active === null, { what: 'the ack' })
    // Neither task lost, neither run twice.
    expect((await sidecar.ledger()).sort()).toEqual([`${t1} end`, `${t1} start`, `${t2} end`, `${t2} start`].sort())
  })
})
