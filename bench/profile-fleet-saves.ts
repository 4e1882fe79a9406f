/**
 * `node --import tsx bench/profile-fleet-saves.ts [agents] [restarts] [root]`: one hub in this
 * process on a file fleet store (a temporary data dir), N agents identified (with pm2 info, so
 * healing watches each), then R admin restarts one at a time through the app, each answer
 * awaited: what command_latency_p99 does without sockets or a second process, so the fleet
 * state's saves show on a shared machine where a p99 over the network does not. Prints the
 * restart request to its `restart_sidecar` handed to the agent (p50, p99, max), the answer's
 * time, and CPU per restart: the main thread's (from /proc, Linux) and the process's (with the
 * thread pool's fsyncs), and the main thread's less what the hub costs idle over as long (its
 * timers over N agents: an answer that waits for an fsync makes the run last longer).
 * `root`: another checkout to measure (e.g. a worktree of main), run from here.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { percentile } from './support/stats.ts'

const [agentsArg = '10000', restartsArg = '2000', rootArg = join(import.meta.dirname, '..')] = process.argv.slice(2)
const N = Number(agentsArg)
const R = Number(restartsArg)
const root = resolve(rootArg)
const { createFileFleetStateStore, FLEET_STATE_FILE } = await import(`${root}/hub/store/fleet-state.ts`)
const { nodeStateFiles } = await import(`${root}/hub/node/platform.ts`)
const { createTestHub } = await import(`${root}/support/in-process-hub.ts`)
const { silentLogger } = await import(`${root}/shared/log.ts`)
const { signAdminToken } = await import(`${root}/hub/auth/auth.ts`)

/** The main thread's CPU so far in µs (utime + stime of the task whose id is the pid). */
function mainThreadCpuUs(): number {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10_000
}

const secret = 's'.repeat(40)
const dir = await mkdtemp(join(tmpdir(), 'agentcom-fleet-saves-'))
const store = createFileFleetStateStore(join(dir, FLEET_STATE_FILE), nodeStateFiles, silentLogger)
const hub = createTestHub({ secret, log: silentLogger, fleetStateStore: store })
let sentAt = 0
const peer = { send: (m: { type: string }) => void (m.type === 'restart_sidecar' && (sentAt = performance.now())), close() {} }
for (let i = 0; i < N; i++) {
  const id = `agent-${i}`
  const pm2 = { name: id, pm_id: i, pid: 1000 + i, status: 'online', uptime_ms: 0, restart_count: 0, memory_bytes: 0 }
  hub.fleet.identify(id, peer as never, { pm2_info: pm2, supervised: true, instance_id: `${id}-1` })
}
const headers = { authorization: `Bearer ${await signAdminToken(secret)}`, 'content-type': 'application/json' }
const body = JSON.stringify({ reason: 'bench' })
const frame: number[] = []
const answer: number[] = []
const idle0 = mainThreadCpuUs()
await new Promise((resolve) => setTimeout(resolve, 2000))
const idleUsPerMs = (mainThreadCpuUs() - idle0) / 2000
const cpu0 = process.cpuUsage()
const main0 = mainThreadCpuUs()
const t0 = performance.now()
for (let i = 0; i < R; i++) {
  const start = performance.now()
  const res = await hub.app.request(`/api/admin/agents/agent-${i}/restart`, { method: 'POST', headers, body })
  if (res.status !== 200) throw new Error(`restart answered ${res.status}`)
  await res.arrayBuffer()
  answer.push(performance.now() - start)
  frame.push(sentAt - start)
}
await hub.fleetState?.durable()
const wallMs = performance.now() - t0
const cpu = process.cpuUsage(cpu0)
const mainUs = mainThreadCpuUs() - main0
const ms = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(3)} p99 ${percentile(xs, 99).toFixed(3)} max ${percentile(xs, 100).toFixed(1)} ms`
console.log(`${root}: N=${N}, ${R} restarts in ${Math.round(wallMs)} ms`)
console.log(`  request -> restart_sidecar: ${ms(frame)}; answer: ${ms(answer)}`)
console.log(`  CPU per restart: main thread ${Math.round(mainUs / R)} µs (${Math.round((mainUs - idleUsPerMs * wallMs) / R)} µs beyond the idle hub's), process ${Math.round((cpu.user + cpu.system) / R)} µs`)
hub.close()
await rm(dir, { recursive: true, force: true })
