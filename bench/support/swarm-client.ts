/** Starts a swarm (bench/support/swarm.ts) in its own process and sends it commands. */
import { fork } from 'node:child_process'
import { join } from 'node:path'
import type { SwarmCommand, SwarmReply } from './swarm.ts'

export interface Swarm {
  pid: number
  connect(opts: Omit<Extract<SwarmCommand, { cmd: 'connect' }>, 'cmd'>): Promise<{ identified: number; failed: number; elapsedMs: number }>
  probe(opts: Omit<Extract<SwarmCommand, { cmd: 'probe' }>, 'cmd'>): Promise<number[]>
  status(): Promise<{ open: number; dropped: number }>
  /** Closes every connection and ends the process. */
  stop(): Promise<void>
}

export function startSwarm(): Swarm {
  const child = fork(join(import.meta.dirname, 'swarm.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  let queue: Promise<unknown> = Promise.resolve()

  /** One command at a time: each reply answers the command sent before it. */
  function send<T>(command: SwarmCommand): Promise<T> {
    const run = queue.then(() => new Promise<T>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`swarm exited with ${code} during ${command.cmd}`))
      child.once('exit', onExit)
      child.once('message', (reply: SwarmReply) => {
        child.off('exit', onExit)
        if (reply.ok) resolve(reply as T)
        else reject(new Error(`swarm ${command.cmd}: ${reply.error}`))
      })
      child.send(command)
    }))
    queue = run.catch(() => {})
    return run
  }

  return {
    pid: child.pid!,
    connect: (opts) => send({ cmd: 'connect', ...opts }),
    probe: async (opts) => (await send<{ latenciesMs: number[] }>({ cmd: 'probe', ...opts })).latenciesMs,
    status: () => send({ cmd: 'status' }),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      await send({ cmd: 'close' }).catch(() => {})
      child.disconnect()
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    },
  }
}
