/**
 * The real fleet of a chaos run: an embedded PostgreSQL, a Node hub and a Deno hub (processes,
 * each on a fixed port so a killed one comes back where its sidecars look for it), sidecars
 * under a real pm2 in their own PM2_HOME, each reaching each hub through a TCP proxy of its
 * own (to cut or blackhole that sidecar alone), and the task command's ledger. It implements
 * the injectors' FaultTargets and records every process exit in the history.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from '../embedded-postgres.ts'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { createPm2Sandbox, type Pm2Sandbox } from '../../support/pm2.ts'
import { freePort } from '../../support/free-port.ts'
import { startProxy, type Proxy } from '../../test/hardening/support/proxy.ts'
import type { FaultTargets } from './injectors.ts'
import type { History } from './history.ts'
import { keepEvidence, type HubIncarnation } from './evidence.ts'
import { HEAL_CRASH_LIMIT, HEAL_WINDOW_MS } from './invariants.ts'

export const HUBS = ['node', 'deno'] as const
export type HubName = (typeof HUBS)[number]
/** Short, so a killed hub's agents move within seconds. */
const LEASE_S = '5'
export const HEAL_MAX_CONCURRENT = 1

export interface Fleet extends FaultTargets {
  sidecars: string[]
  ledgerFile: string
  /** A hub up now (either), for the run's requests. */
  hub(name?: HubName): HubProcess | null
  /** pm2's restart count per sidecar, and how many times the run killed each. */
  sidecarRestarts(): Promise<{ agent_id: string; restarts: number; kills: number }[]>
  /** Writes the hubs' and sidecars' logs and the database's tasks into `dir` (before stop). */
  keep(dir: string): Promise<void>
  stop(): Promise<void>
}

export async function startFleet(o: { sidecars: number; history: History }): Promise<Fleet> {
  const { history } = o
  const base = await mkdtemp(join(tmpdir(), 'agentcom-chaos-'))
  const ledgerFile = join(base, 'ledger.txt')
  await writeFile(ledgerFile, '')
  const postgres: EmbeddedPostgresServer = await startEmbeddedPostgres({ flags: ['-c', 'synchronous_commit=off'] })
  const secret = randomBytes(32).toString('hex')
  const ports = { node: await freePort(), deno: await freePort() }
  const dataDirs = { node: join(base, 'hub-node'), deno: join(base, 'hub-deno') }
  const hubs: Partial<Record<HubName, HubProcess>> = {}
  const incarnation = { node: 0, deno: 0 }
  const killing = new Set<HubProcess>()
  const incarnations: HubIncarnation[] = []

  async function startHub(name: HubName): Promise<void> {
    // A new id per process: a hub id stays another process's until its lease runs out.
    const hubId = `hub-${name}-${++incarnation[name]}`
    const hub = await startHubProcess({
      PORT: String(ports[name]), AGENTCOM_DATABASE_URL: postgres.url, AGENTCOM_HUB_LEASE_S: LEASE_S,
      AGENTCOM_HUB_ID: hubId, AGENTCOM_HEAL_MAX_CONCURRENT: String(HEAL_MAX_CONCURRENT),
      AGENTCOM_HEAL_CRASH_LIMIT: String(HEAL_CRASH_LIMIT), AGENTCOM_HEAL_WINDOW_S: String(HEAL_WINDOW_MS / 1000),
    }, name, { secret, dataDir: dataDirs[name] })
    incarnations.push({ hub_id: hubId, logs: hub.logs })
    hub.child.once('exit', () => {
      history.add({ t: history.now(), type: 'exit', process: `hub ${name}`, killed: killing.has(hub) })
      if (hubs[name] === hub) delete hubs[name]
    })
    hubs[name] = hub
  }
  for (const name of HUBS) await startHub(name)

  const pm2: Pm2Sandbox = await createPm2Sandbox()
  const sidecars = Array.from({ length: o.sidecars }, (_, i) => `chaos-${i + 1}`)
  const proxies = new Map<string, Proxy[]>()
  const kills = new Map<string, number>()
  const taskCommand = (agentId: string) => `"${process.execPath}" "${join(import.meta.dirname, 'ledger-task.mjs')}" "${ledgerFile}" "${agentId}"`
  for (const [i, id] of sidecars.entries()) {
    const own = await Promise.all(HUBS.map((name) => startProxy(ports[name])))
    proxies.set(id, own)
    // Half start on each hub; each fails over to the other.
    const urls = own.map((p) => p.wsUrl)
    if (i % 2) urls.reverse()
    const token = await hubs.node!.agentToken(id)
    await pm2.startSidecar(id, { AGENTCOM_TOKEN: token, AGENTCOM_HUB_URL: urls.join(','), AGENTCOM_TASK_COMMAND: taskCommand(id) })
  }

  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
  return {
    sidecars, ledgerFile, sleep,
    hub(name) {
      if (name) return hubs[name] ?? null
      const up = HUBS.map((n) => hubs[n]).filter((h): h is HubProcess => h !== undefined)
      return up[Math.floor(Math.random() * up.length)] ?? null
    },
    async killSidecar(agentId) {
      const { pid } = await pm2.get(`agentcom-${agentId}`)
      kills.set(agentId, (kills.get(agentId) ?? 0) + 1)
      if (pid > 0) process.kill(pid, 'SIGKILL')
    },
    async killHub(name) {
      const hub = hubs[name as HubName]
      if (!hub) return
      killing.add(hub)
      await hub.crash()
    },
    startHub: (name) => startHub(name as HubName),
    stopPostgres: () => postgres.pause(),
    startPostgres: () => postgres.resume(),
    cutSidecar(agentId) {
      for (const p of proxies.get(agentId) ?? []) p.cut()
    },
    blackholeSidecar(agentId) {
      for (const p of proxies.get(agentId) ?? []) p.freeze()
    },
    restoreSidecar(agentId) {
      // The frozen connections stay dead (as a pulled cable's would): the sidecar's ping finds out.
      for (const p of proxies.get(agentId) ?? []) p.thaw()
    },
    async sidecarRestarts() {
      const list = await pm2.list()
      return sidecars.map((id) => ({ agent_id: id, restarts: list.find((p) => p.name === `agentcom-${id}`)?.restart_time ?? -1, kills: kills.get(id) ?? 0 }))
    },
    keep: (dir) => keepEvidence(dir, { hubs: incarnations, pm2Home: pm2.home, databaseUrl: postgres.url }),
    async stop() {
      await pm2.kill().catch(() => undefined)
      for (const name of HUBS) {
        const hub = hubs[name]
        if (!hub) continue
        killing.add(hub)
        await hub.stop()
      }
      for (const own of proxies.values()) for (const p of own) await p.close()
      await postgres.stop().catch(() => undefined)
      await rm(base, { recursive: true, force: true })
    },
  }
}
