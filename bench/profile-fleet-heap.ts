/**
 * `node --expose-gc --import tsx bench/profile-fleet-heap.ts [agents] [root]`: one hub in this
 * process on a file fleet store (a temporary data dir), a storm of N identifies (with pm2 info,
 * so healing watches each), then what the fleet state's saves did (snapshots written whole,
 * appends and their bytes) and how much the heap kept grew, by space, after a full GC: what
 * the saver holds per agent. `root`: another checkout to measure (e.g. a worktree of main).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { getHeapSpaceStatistics } from 'node:v8'
const [agentsArg = '10000', rootArg = join(import.meta.dirname, '..')] = process.argv.slice(2)
const N = Number(agentsArg)
const root = resolve(rootArg)
const { createFileFleetStateStore, FLEET_STATE_FILE } = await import(`${root}/hub/store/fleet-state.ts`)
const { nodeStateFiles } = await import(`${root}/hub/node/platform.ts`)
const { createTestHub } = await import(`${root}/support/in-process-hub.ts`)
const { silentLogger } = await import(`${root}/shared/log.ts`)
let snapshots = 0
let appends = 0
let appendBytes = 0
// The fleet state's file calls, counted: a snapshot is a whole-state encode, an append its journal.
const files = {
  ...nodeStateFiles,
  writeAtomic(p: string, t: string) {
    if (!p.endsWith('.journal')) snapshots++
    return nodeStateFiles.writeAtomic(p, t)
  },
  append(p: string, t: string) {
    appends++
    appendBytes += t.length
    return nodeStateFiles.append(p, t)
  },
}
const dir = await mkdtemp(join(tmpdir(), 'agentcom-storm-'))
const hub = createTestHub({ secret: 's'.repeat(40), log: silentLogger, fleetStateStore: createFileFleetStateStore(join(dir, FLEET_STATE_FILE), files, silentLogger) })
await new Promise((r) => setTimeout(r, 200)) // the hub's start settled before the baseline
const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with node --expose-gc')
/** Bytes used by each heap space after two full GCs. */
const space = (): Record<string, number> => {
  gc()
  gc()
  return Object.fromEntries(getHeapSpaceStatistics().map((x) => [x.space_name, x.space_used_size]))
}
const b = space()
const peer = { send() {}, close() {} }
const t0 = performance.now()
for (let i = 0; i < N; i++) {
  const id = `agent-${i}`
  const pm2 = { name: id, pm_id: i, pid: 1000 + i, status: 'online', uptime_ms: 0, restart_count: 0, memory_bytes: 0 }
  hub.fleet.identify(id, peer as never, { pm2_info: pm2, supervised: true, instance_id: `${id}-1` })
  if (i % 500 === 499) await new Promise((r) => setImmediate(r))
}
await hub.fleetState?.durable()
await new Promise((r) => setTimeout(r, 1200)); await hub.fleetState?.durable()
const a = space()
const mb = (x: number) => (x / 1048576).toFixed(2)
console.log(`${root}: N=${N} storm ${Math.round(performance.now() - t0)} ms; snapshots ${snapshots}, appends ${appends} (${mb(appendBytes)} MB); growth MB: large_object ${mb(a.large_object_space - b.large_object_space)}, old ${mb(a.old_space - b.old_space)}, total ${mb(Object.values(a).reduce((x, y) => x + y, 0) - Object.values(b).reduce((x, y) => x + y, 0))}`)
hub.close(); await rm(dir, { recursive: true, force: true })
