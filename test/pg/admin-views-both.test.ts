/**
 * The same state, the same answers: one hub on its memory and one cluster hub on PostgreSQL
 * are driven alike (agents, stats, a drain, a restart, tasks, a fan-out, a rollout, healing's
 * switch), and every admin answer of one is the other's, field for field, once the values that
 * differ by nature (times, ids, the hub's id) are replaced by their kind. The behaviour suite
 * (test/behaviour/admin-views.test.ts) checks the same answers against a written shape, once
 * per store; this compares the stores themselves, so a field nobody wrote down cannot drift.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { signAgentToken } from '../../hub/auth/auth.ts'
import { startNodeHub } from '../../hub/node/serve.ts'
import { silentLogger } from '../../shared/log.ts'
import { CLUSTER_SECRET, clusterAdminToken, pm2Info, startClusterHub } from '../../support/cluster-hubs.ts'
import { createTestDatabase } from '../../support/test-database.ts'
import { identifiedSocket, type TestSocket } from '../../support/ws-client.ts'
import { waitFor } from '../../support/wait.ts'

const TIMES = new Set(['connected_at', 'last_seen', 'at', 'requested_at', 'updated_at', 'created_at'])
const IDS = new Set(['task_id', 'restart_id', 'rollout_id'])

/** `value` with each time, id and hub id replaced by its kind; arrays of tasks sorted by agent. */
function normalized(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => normalized(v))
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalized(v, k)]))
  }
  if (TIMES.has(key) && typeof value === 'number') return '<time>'
  if (IDS.has(key) && typeof value === 'string') return '<id>'
  if (key === 'hub_id' && typeof value === 'string') return '<hub>'
  return value
}

interface Side {
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>
  agent(agentId: string, extra?: Record<string, unknown>): Promise<TestSocket>
}

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
})

async function side(url: string): Promise<Side> {
  const token = await clusterAdminToken()
  const sockets: TestSocket[] = []
  cleanups.push(async () => sockets.forEach((s) => s.close()))
  return {
    async api(method, path, body) {
      const res = await fetch(`${url}/api/admin${path}`, {
        method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
      })
      return { status: res.status, body: await res.json() }
    },
    async agent(agentId, extra = {}) {
      const socket = await identifiedSocket(`${url.replace('http', 'ws')}/ws`, agentId, await signAgentToken(CLUSTER_SECRET, agentId), { pm2_info: pm2Info(0, 100), ...extra })
      sockets.push(socket)
      return socket
    },
  }
}

/** What an operator does and reads, in order; every answer, for the two sides to compare. */
async function script(hub: Side): Promise<unknown[]> {
  const answers: unknown[] = []
  const read = async (method: string, path: string, body?: unknown) => {
    const answer = await hub.api(method, path, body)
    answers.push([method, path.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>'), answer])
    return answer.body as any
  }
  const one = await hub.agent('s-1', { version: '2.0.0', hostname: 'h', platform: 'linux', arch: 'arm64', node_version: 'v22.0.0', labels: ['gpu'] })
  await hub.agent('s-2', { labels: ['gpu', 'eu'] })
  await hub.agent('s-3')
  one.send({ type: 'stats', rss_bytes: 1, heap_used_bytes: 2, event_loop_delay_ms: 3, uptime_ms: 4 })
  await waitFor(() => hub.api('GET', '/agents/s-1'), (r: any) => r.body.stats !== null, { what: 'stats shown' })
  await read('GET', '/agents')
  await read('GET', '/agents?limit=2')
  await read('GET', '/agents?label=gpu&status=idle')
  await read('POST', '/agents/s-3/drain')
  await read('POST', '/agents/s-1/restart', { reason: 'why', mode: 'graceful', deadline_s: 10 })
  await read('GET', '/agents/s-1')
  const task = await read('POST', '/tasks', { input: { deep: [1, { two: null }] }, agent_id: 's-9', labels: ['x'], retries: 1, retry_delay_ms: 200, timeout_ms: 9000 })
  await read('GET', `/tasks/${task.task_id}`)
  await read('POST', `/tasks/${task.task_id}/cancel`)
  await read('POST', `/tasks/${task.task_id}/cancel`)
  await read('GET', '/tasks?status=cancelled')
  const rollout = await read('POST', '/rollouts', { agent_ids: ['s-2'], reason: 'roll', mode: 'force' })
  await read('GET', `/rollouts/${rollout.rollout_id}`)
  await read('POST', `/rollouts/${rollout.rollout_id}/cancel`)
  await read('GET', '/agents/s-2')
  await read('POST', '/healing/pause')
  await read('GET', '/healing')
  await read('GET', '/agents/nobody')
  await read('POST', '/agents/nobody/resume')
  // Last: the tasks it creates are dispatched after, at each side's own pace.
  const fanned = await read('POST', '/tasks', { input: 'each', all: true, labels: ['gpu'], timeout_ms: 60_000 })
  fanned.tasks.sort((a: any, b: any) => a.agent_id.localeCompare(b.agent_id))
  return answers
}

describe('the admin answers of one hub and of a cluster hub', () => {
  it('are the same for the same state, field for field', async () => {
    const options = { secret: CLUSTER_SECRET, log: silentLogger, healing: { maxMemoryMb: 900 } }
    const single = await startNodeHub({ port: 0, host: '127.0.0.1', ...options })
    cleanups.push(() => single.close())
    const db = await createTestDatabase()
    cleanups.push(() => db.drop())
    const cluster = await startClusterHub(db.url, 'hub-c', { sweepMs: 100, hub: options })
    cleanups.push(() => cluster.stop())

    const fromMemory = await script(await side(single.url))
    const fromRows = await script(await side(cluster.running.url))
    expect(normalized(fromRows)).toEqual(normalized(fromMemory))
  })
})
