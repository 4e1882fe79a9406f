/**
 * One child process running many sidecars with the real sidecar code: createSidecar, the real
 * createHubLink (ws, backoff with jitter, ping/pong), a real TaskQueue file per agent and the
 * real executor running the task command through /bin/sh. What is not real is pm2: a stub
 * adapter reports `supervised` and a Pm2Info, and when a sidecar exits to be restarted this
 * process starts a new instance of it (restart_count + 1, a new pid and instance id, the same
 * queue file) after a pm2-like delay. As process.exit would, the exit freezes the old instance:
 * its queue, executor and socket never act again. Driven over IPC by swarm.ts; records what each
 * agent saw.
 */
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { createSidecar } from '../../../sidecar/sidecar.ts'
import { createHubLink, type HubLink } from '../../../sidecar/hub-link.ts'
import { TaskQueue } from '../../../sidecar/queue.ts'
import { execTask, type RunningTask } from '../../../sidecar/executor.ts'
import type { Pm2Adapter } from '../../../sidecar/pm2.ts'
import { createLogger } from '../../../shared/log.ts'
import type { HubMessage, SidecarMessage } from '../../../shared/protocol.ts'
import type { AgentLog, ChildReply, ParentCommand, SwarmStart } from './swarm-types.ts'

interface Agent {
  log: AgentLog
  token: string
  stop: ((graceMs?: number) => Promise<void>) | null
  /** The restart_id of the `agent_restarting` this instance sent, for the exit record. */
  restartingId: string | null
}

const agents: Agent[] = []
const problems: string[] = []
let start: SwarmStart

const reply = (message: ChildReply): void => {
  process.send!(message)
}

process.on('unhandledRejection', (err) => problems.push(`unhandled rejection: ${String(err)}`))
process.on('uncaughtException', (err) => problems.push(`uncaught exception: ${err.stack ?? String(err)}`))
// The parent is gone (test ended or crashed): nothing here may outlive it.
process.on('disconnect', () => process.exit(0))

process.on('message', (message: ParentCommand) => {
  void handle(message).catch((err) => problems.push(`command ${message.type} failed: ${String(err)}`))
})

async function handle(message: ParentCommand): Promise<void> {
  switch (message.type) {
    case 'start':
      start = message
      for (const a of message.agents) {
        const agent: Agent = {
          token: a.token, stop: null, restartingId: null,
          log: {
            agentId: a.agentId, generation: 0, opens: [], identified: [], closes: [], deadHub: [], exits: [],
            restartsReceived: [], assigns: [], sent: [], acks: [], cancels: [], warnings: [],
          },
        }
        agents.push(agent)
      }
      await Promise.all(agents.map((agent, i) => launch(agent, i)))
      return reply({ type: 'started' })
    case 'report':
      return reply({ type: 'report', id: message.id, agents: agents.map((a) => a.log), problems })
    case 'stop':
      await Promise.all(agents.map((a) => a.stop?.(0)))
      reply({ type: 'stopped' })
      return
  }
}

async function launch(agent: Agent, index: number): Promise<void> {
  const { log: rec } = agent
  const generation = rec.generation
  const name = `agentcom-${rec.agentId}`
  const startedAt = Date.now()
  const pid = 100_000 + (start.pmIdBase + index) * 1000 + generation
  const pm2: Pm2Adapter = {
    supervised: true,
    getProcessName: async () => name,
    getStatus: async () => 'online',
    getInfo: async () => ({
      name, pm_id: start.pmIdBase + index, pid, status: 'online', uptime_ms: Date.now() - startedAt,
      restart_count: generation, memory_bytes: null,
    }),
    infoFromEnv: () => null,
  }
  // The real logger, redaction included, so the token check reads what a sidecar would print.
  const log = createLogger(`sidecar:${rec.agentId}`, (line) => {
    if (line.includes('hub stopped answering')) rec.deadHub.push(Date.now())
    if ((line.includes('"level":"warn"') || line.includes('"level":"error"')) && rec.warnings.length < 100) rec.warnings.push(line)
  })
  const queue = await TaskQueue.open(join(start.dataDir, `sidecar-${rec.agentId}.queue.json`), log)
  agent.restartingId = null
  // After exit, nothing of this instance may act: a dead process starts no task, writes no file.
  let dead = false
  const never = () => new Promise<never>(() => {})
  for (const method of ['begin', 'finish', 'clear'] as const) {
    const real = queue[method].bind(queue) as (...args: any[]) => Promise<void>
    ;(queue as any)[method] = (...args: any[]) => (dead ? never() : real(...args))
  }
  const exec = (opts: Parameters<typeof execTask>[0]): RunningTask => (dead ? { done: never(), stop: () => {} } : execTask(opts))

  const sidecar = createSidecar({
    config: {
      hubUrl: start.hubUrl, hubUrls: [start.hubUrl], agentId: rec.agentId, token: agent.token, dataDir: start.dataDir,
      taskCommand: start.taskCommand, processName: name, shutdownGraceMs: 5000, statsIntervalMs: 15_000,
      taskDir: start.dataDir, taskEnv: [], taskUser: null,
    },
    pm2, queue, log,
    taskEnv: { PATH: process.env.PATH, AGENTCOM_LEDGER: start.ledger },
    instanceId: randomUUID(),
    exec,
    connect: (handlers) => recordingLink(agent, () => dead, createHubLink({
      url: start.hubUrl, log, ...start.link,
      ...(start.fixedRandom === undefined ? {} : { random: () => start.fixedRandom! }),
      onOpen: () => {
        rec.opens.push(Date.now())
        handlers.onOpen()
      },
      onMessage: (m) => {
        recordReceived(rec, m)
        handlers.onMessage(m)
      },
      onClose: (code) => {
        rec.closes.push([Date.now(), code])
        handlers.onClose?.(code)
      },
    })),
    exit: () => {
      dead = true
      // pm2 would start the process again: so does this, as a new instance.
      rec.exits.push([Date.now(), agent.restartingId])
      agent.stop = null
      rec.generation++
      const [min, max] = start.restartDelayMs
      setTimeout(() => void launch(agent, index).catch((err) => problems.push(`relaunch failed: ${String(err)}`)), min + Math.random() * (max - min))
    },
  })
  const running = await sidecar.start()
  agent.stop = running.stop
}

function recordReceived(rec: AgentLog, m: HubMessage): void {
  const now = Date.now()
  switch (m.type) {
    case 'identified':
      return void rec.identified.push(now)
    case 'restart_sidecar':
      return void rec.restartsReceived.push([now, m.restart_id])
    case 'task_assign':
      return void rec.assigns.push([now, m.task_id])
    case 'task_ack':
      return void rec.acks.push([now, m.task_id])
    case 'task_cancel':
      return void rec.cancels.push([now, m.task_id])
  }
}

/** Records every frame the sidecar sends, and whether it reached the socket; a dead instance sends nothing. */
function recordingLink(agent: Agent, isDead: () => boolean, link: HubLink): HubLink {
  return {
    get connected() {
      return link.connected
    },
    identified: () => link.identified(),
    close: (code, reason) => link.close(code, reason),
    async send(message: SidecarMessage) {
      if (isDead()) return new Promise<boolean>(() => {})
      const written = await link.send(message)
      if (message.type === 'agent_restarting') agent.restartingId = message.restart_id ?? null
      if (message.type !== 'identify' && message.type !== 'ping') {
        const id = 'task_id' in message ? message.task_id : ('restart_id' in message ? message.restart_id ?? '' : '')
        agent.log.sent.push([Date.now(), message.type, id, written])
      }
      return written
    },
  }
}
