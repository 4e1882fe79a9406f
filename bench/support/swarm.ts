/**
 * A fleet of simulated agents in its own process (forked by swarm-client.ts), so that the
 * clients' CPU and memory never count against the server under test. Commands arrive over
 * IPC; each gets exactly one reply.
 *
 * - `connect`: opens `count` connections, at most `window` of them not yet identified at a
 *   time, each sending the hub's identify frame; replies with the ms until all are identified.
 * - `probe`: for each of `count` agents from `offset` on, one at a time, POSTs a restart and
 *   times it until that agent receives `restart_sidecar` (each agent is restarted only once:
 *   a second restart would find the first one pending and send nothing).
 */
import { Agent, request } from 'node:http'
import { performance } from 'node:perf_hooks'
import { signAgentToken } from '../../hub/auth/auth.ts'
import { openRawSocket, type RawSocket } from './raw-ws.ts'

export type SwarmCommand =
  | { cmd: 'connect'; wsUrl: string; count: number; idPrefix: string; secret: string; window: number; timeoutMs: number }
  | { cmd: 'probe'; httpUrl: string; pathTemplate: string; headers: Record<string, string>; offset: number; count: number; timeoutMs: number }
  | { cmd: 'status' }
  | { cmd: 'close' }

export type SwarmReply =
  | { ok: true; identified: number; failed: number; elapsedMs: number }
  | { ok: true; latenciesMs: number[] }
  | { ok: true; open: number; dropped: number }
  | { ok: true }
  | { ok: false; error: string }

interface SimAgent {
  id: string
  ws: RawSocket
  identified: boolean
  /** Called with each text frame after identify. */
  onFrame: ((frame: { type: string }) => void) | null
}

const agents: SimAgent[] = []
let dropped = 0

/** What a real sidecar under pm2 sends in its identify frame, minus the token. */
export function identifyFrame(agentId: string, token: string, pmId: number) {
  return {
    type: 'identify', agent_id: agentId, token, protocol_version: 1, supervised: true,
    instance_id: `00000000-0000-4000-8000-${String(pmId).padStart(12, '0')}`,
    pm2_info: {
      name: `agentcom-${agentId}`, pm_id: pmId, pid: 100_000 + pmId, status: 'online',
      uptime_ms: 1234, restart_count: 0, memory_bytes: 61_000_000,
    },
    active_task_id: null,
  }
}

async function connectAll(c: Extract<SwarmCommand, { cmd: 'connect' }>): Promise<SwarmReply> {
  const ids = Array.from({ length: c.count }, (_, i) => `${c.idPrefix}${i}`)
  // Signed before the clock starts: the figure is the server's time, not ours.
  const frames = await Promise.all(ids.map(async (id, i) => JSON.stringify(identifyFrame(id, await signAgentToken(c.secret, id), i))))
  return new Promise((resolve) => {
    let next = 0
    let inFlight = 0
    let identified = 0
    let failed = 0
    const started = performance.now()
    const timer = setTimeout(() => finish(), c.timeoutMs)
    let finished = false

    function finish(): void {
      if (finished) return
      finished = true
      clearTimeout(timer)
      resolve({ ok: true, identified, failed: c.count - identified, elapsedMs: performance.now() - started })
    }

    function settled(): void {
      inFlight--
      if (identified + failed === c.count) finish()
      else launch()
    }

    function launch(): void {
      while (next < c.count && inFlight < c.window) {
        const i = next++
        inFlight++
        const agent: SimAgent = { id: ids[i], ws: null as unknown as RawSocket, identified: false, onFrame: null }
        agent.ws = openRawSocket(c.wsUrl, {
          onOpen: (ws) => ws.sendText(frames[i]),
          onText: (text) => {
            const frame = JSON.parse(text) as { type: string }
            if (!agent.identified) {
              if (frame.type !== 'identified') return
              agent.identified = true
              identified++
              agents.push(agent)
              return settled()
            }
            agent.onFrame?.(frame)
          },
          onClose: () => {
            if (agent.identified) {
              dropped++
              return
            }
            failed++
            settled()
          },
        })
      }
    }
    launch()
  })
}

async function probe(c: Extract<SwarmCommand, { cmd: 'probe' }>): Promise<SwarmReply> {
  if (agents.length < c.offset + c.count) return { ok: false, error: `only ${agents.length} agents for probes up to ${c.offset + c.count}` }
  const u = new URL(c.httpUrl)
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 })
  const body = JSON.stringify({ reason: 'bench' })
  const latenciesMs: number[] = []
  try {
    for (let i = c.offset; i < c.offset + c.count; i++) {
      const agent = agents[i]
      const received = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no restart_sidecar for ${agent.id} within ${c.timeoutMs} ms`)), c.timeoutMs)
        agent.onFrame = (frame) => {
          if (frame.type !== 'restart_sidecar') return
          clearTimeout(timer)
          agent.onFrame = null
          resolve(performance.now())
        }
      })
      const started = performance.now()
      const answered = new Promise<number>((resolve, reject) => {
        const req = request({
          host: u.hostname, port: u.port, method: 'POST', agent: keepAlive,
          path: c.pathTemplate.replace('{id}', agent.id),
          headers: { ...c.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        }, (res) => {
          res.resume()
          res.on('end', () => (res.statusCode === 200 ? resolve(res.statusCode) : reject(new Error(`restart answered ${res.statusCode}`))))
        })
        req.on('error', reject)
        req.end(body)
      })
      const [at] = await Promise.all([received, answered])
      latenciesMs.push(at - started)
    }
  } finally {
    keepAlive.destroy()
  }
  return { ok: true, latenciesMs }
}

async function handle(c: SwarmCommand): Promise<SwarmReply> {
  switch (c.cmd) {
    case 'connect':
      return connectAll(c)
    case 'probe':
      return probe(c)
    case 'status':
      return { ok: true, open: agents.filter((a) => !a.ws.socket.destroyed).length, dropped }
    case 'close':
      for (const a of agents) a.ws.destroy()
      return { ok: true }
  }
}

process.on('message', (c: SwarmCommand) => {
  handle(c).then(
    (reply) => process.send!(reply),
    (err: unknown) => process.send!({ ok: false, error: err instanceof Error ? err.message : String(err) }),
  )
})
process.on('disconnect', () => process.exit(0))
