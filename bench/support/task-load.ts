/**
 * One load shape for every throughput figure: `workers` agents that complete each task the
 * moment it arrives, and `tasks` submissions with `inFlight` of them outstanding at a time,
 * one submission per task. Throughput is tasks per second from the first submission to the
 * last completion acknowledged (for the hub: the `task_ack` it sends once the outcome is saved).
 */
import { signAgentToken } from '../../hub/auth/auth.ts'
import { openRawSocket, type RawSocket } from './raw-ws.ts'
import { rawPoster } from './raw-http.ts'
import type { ServerUnderTest } from './servers.ts'
import { DEFAULTS } from '../../hub/config/hub-options.ts'

export interface LoadShape {
  workers: number
  tasks: number
  inFlight: number
}

/**
 * Untimed tasks before a timed run, so that a hub is measured as it runs for days: its table
 * full (the default cap on finished tasks kept, each new one forgetting the oldest) and its
 * per-task code compiled by V8 (figures/throughput.ts says why; docs/benchmarks.md, round 7).
 */
export const STEADY_WARM_UP_TASKS = DEFAULTS.maxFinishedTasks

/** Seconds a run may take before it is called stuck. */
const RUN_TIMEOUT_MS = 300_000

/** Runs `submit(i)` for i in 0..count-1 with `inFlight` outstanding; resolves when all resolved. */
export async function submitAll(count: number, inFlight: number, submit: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < count) await submit(next++)
  }
  await Promise.all(Array.from({ length: inFlight }, lane))
}

/** A promise that resolves after `count` calls of the returned `tick`, or rejects after the run timeout. */
export function countdown(count: number, what: string): { tick(): void; done: Promise<void>; get left(): number } {
  let left = count
  let finish!: () => void
  const reached = new Promise<void>((resolve) => (finish = resolve))
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`only ${count - left} of ${count} ${what} within ${RUN_TIMEOUT_MS / 1000} s`)), RUN_TIMEOUT_MS)
  })
  return {
    tick() {
      if (--left === 0) finish()
    },
    done: Promise.race([reached, timeout]).finally(() => clearTimeout(timer)),
    get left() {
      return left
    },
  }
}

/**
 * Tasks/s through AgentCom hubs: agents connected in turn over `hubs` and tasks posted in turn
 * over them, both on raw sockets (raw-ws.ts, raw-http.ts) so that the load generator costs
 * little: on 2 cores its CPU is taken from the server under test. Fetch cost it about 0.6 ms per
 * task (about 3 times BullMQ's whole client side); node:http's client was about half of the 0.13
 * to 0.15 ms it cost after that. `hubErrors` adds the hubs' own error lines to a failed post's
 * message.
 */
export async function hubTaskRun(o: {
  hubs: ServerUnderTest[]; shape: LoadShape; prefix: string; hubErrors?: () => string[]
}): Promise<number> {
  const acks = countdown(o.shape.tasks, 'tasks acknowledged')
  const poster = rawPoster()
  const agents = await Promise.all(Array.from({ length: o.shape.workers }, async (_, i) => {
    const hub = o.hubs[i % o.hubs.length]
    const agentId = `${o.prefix}-agent-${i}`
    return taskAgent(hub.wsUrl, agentId, await signAgentToken(hub.secret, agentId), () => acks.tick())
  }))
  try {
    const started = performance.now()
    await submitAll(o.shape.tasks, o.shape.inFlight, async (i) => {
      const hub = o.hubs[i % o.hubs.length]
      const res = await poster.post(`${hub.url}/api/admin/tasks`, hub.adminHeaders, JSON.stringify({ input: { n: i } }))
      if (res.status !== 201) {
        throw new Error(`task post answered ${res.status}: ${res.text}\n${(o.hubErrors?.() ?? []).slice(-5).join('\n')}`)
      }
    })
    await acks.done
    return o.shape.tasks / ((performance.now() - started) / 1000)
  } finally {
    for (const agent of agents) agent.destroy()
    poster.close()
  }
}

/** An agent that accepts and completes every task at once, and counts the acknowledgements. */
function taskAgent(url: string, agentId: string, token: string, onAck: () => void): Promise<RawSocket> {
  return new Promise((resolve, reject) => {
    const ws = openRawSocket(url, {
      onOpen(socket) {
        socket.sendText(JSON.stringify({ type: 'identify', agent_id: agentId, token, protocol_version: 1, pm2_info: null, supervised: true }))
      },
      onText(text, socket) {
        const frame = JSON.parse(text)
        if (frame.type === 'identified') resolve(socket)
        else if (frame.type === 'task_assign') {
          socket.sendText(`{"type":"task_accepted","task_id":${JSON.stringify(frame.task_id)}}`)
          socket.sendText(`{"type":"task_complete","task_id":${JSON.stringify(frame.task_id)},"result":null}`)
        } else if (frame.type === 'task_ack') onAck()
        else if (frame.type === 'error' && frame.error === 'unauthorized') reject(new Error(`${agentId} refused`))
      },
      onClose(code) {
        reject(new Error(`${agentId} closed (${code}) before it was identified`))
      },
    })
    void ws
  })
}
