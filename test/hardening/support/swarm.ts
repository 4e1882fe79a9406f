/**
 * Many real sidecars in a few child processes (see swarm-child.ts for what is real), with a
 * ledger file that every task execution writes to: "<task_id> start" when the task command
 * begins, "<task_id> end" when it has done its work. Killing the swarm kills only its children.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { AgentLog, ChildReply, ParentCommand, SwarmStart } from './swarm-types.ts'

const ROOT = join(import.meta.dirname, '..', '..', '..')

/**
 * The task command: reads `sleep_ms` from the task JSON on stdin with shell expansions only,
 * writes its start to the ledger, sleeps, writes its end, prints a JSON result. Costs one
 * /bin/sh and one sleep per task, so hundreds can run at once on a small machine.
 */
export const LEDGER_TASK = [
  'IFS= read -r t',
  `s=\${t#*'"sleep_ms":'}`,
  's=${s%%[!0-9]*}',
  's=${s:-0}',
  'echo "$AGENTCOM_TASK_ID start" >> "$AGENTCOM_LEDGER"',
  'if [ "$s" -gt 0 ]; then sleep "$((s / 1000)).$(printf %03d $((s % 1000)))"; fi',
  'echo "$AGENTCOM_TASK_ID end" >> "$AGENTCOM_LEDGER"',
  `printf '{"slept_ms":%s}' "$s"`,
].join('; ')

export interface SwarmOptions {
  hubUrl: string
  agents: { agentId: string; token: string }[]
  /** Child processes to spread the agents over. Default 4. */
  children?: number
  link?: SwarmStart['link']
  fixedRandom?: number
  restartDelayMs?: [number, number]
}

export interface LedgerEntry {
  starts: number
  ends: number
}

export interface Swarm {
  dataDir: string
  ledgerPath: string
  pids: number[]
  /** Everything every agent recorded, and anything that went wrong inside the children. */
  report(): Promise<{ agents: AgentLog[]; problems: string[] }>
  ledger(): Promise<Map<string, LedgerEntry>>
  /** Lines the children printed (their own stderr, e.g. a crash). */
  output: string[]
  /** Stops every sidecar (a running task is interrupted and reported) and ends the children. */
  stop(): Promise<void>
}

export async function startSwarm(opts: SwarmOptions): Promise<Swarm> {
  const dataDir = await mkdtemp(join(tmpdir(), 'agentcom-swarm-'))
  const ledgerPath = join(dataDir, 'ledger.txt')
  const count = Math.max(1, Math.min(opts.children ?? 4, opts.agents.length))
  const output: string[] = []
  const children: ChildProcess[] = []
  let nextId = 0
  const pending = new Map<number, (r: Extract<ChildReply, { type: 'report' }>) => void>()

  const per = Math.ceil(opts.agents.length / count)
  await Promise.all(Array.from({ length: count }, async (_, i) => {
    const child = fork(join(import.meta.dirname, 'swarm-child.ts'), [], {
      cwd: ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, NODE_OPTIONS: '' },
    })
    children.push(child)
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        if (output.length < 1000) output.push(line)
      })
    }
    child.on('message', (m: ChildReply) => {
      if (m.type === 'report') pending.get(m.id)?.(m)
    })
    const started = new Promise<void>((resolve, reject) => {
      child.on('message', (m: ChildReply) => m.type === 'started' && resolve())
      child.once('exit', (code) => reject(new Error(`swarm child exited with ${code}:\n${output.join('\n')}`)))
    })
    const command: ParentCommand = {
      type: 'start', hubUrl: opts.hubUrl, dataDir, ledger: ledgerPath, taskCommand: LEDGER_TASK,
      agents: opts.agents.slice(i * per, (i + 1) * per), link: opts.link, fixedRandom: opts.fixedRandom,
      restartDelayMs: opts.restartDelayMs ?? [100, 400], pmIdBase: i * per,
    }
    child.send(command)
    await started
  }))

  return {
    dataDir,
    ledgerPath,
    pids: children.map((c) => c.pid!),
    output,
    async report() {
      const replies = await Promise.all(children.map((child) => new Promise<Extract<ChildReply, { type: 'report' }>>((resolve) => {
        const id = nextId++
        pending.set(id, (r) => {
          pending.delete(id)
          resolve(r)
        })
        child.send({ type: 'report', id } satisfies ParentCommand)
      })))
      return { agents: replies.flatMap((r) => r.agents), problems: replies.flatMap((r) => r.problems) }
    },
    ledger: () => readLedger(ledgerPath),
    async stop() {
      await Promise.all(children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.send({ type: 'stop' } satisfies ParentCommand, () => {})
        child.once('message', () => child.disconnect())
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
        await exited
        clearTimeout(timer)
      }))
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

export async function readLedger(path: string): Promise<Map<string, LedgerEntry>> {
  const text = await readFile(path, 'utf8').catch(() => '')
  const ledger = new Map<string, LedgerEntry>()
  for (const line of text.split('\n')) {
    const [id, what] = line.split(' ')
    if (!id || (what !== 'start' && what !== 'end')) continue
    const entry = ledger.get(id) ?? { starts: 0, ends: 0 }
    if (what === 'start') entry.starts++
    else entry.ends++
    ledger.set(id, entry)
  }
  return ledger
}
