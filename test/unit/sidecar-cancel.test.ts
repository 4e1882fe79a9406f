/**
 * The sidecar's side of task control, through its seams (a recording hub link, a task runner
 * the test ends, a real queue file): a cancel terminates the task's group with the configured
 * grace and reports it only once it is over; a restart never runs a cancelled task again; the
 * task's output goes out before its outcome.
 */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { waitUntil } from '../../support/wait.ts'
import { createSidecar } from '../../sidecar/sidecar.ts'
import { TaskQueue } from '../../sidecar/queue.ts'
import type { ExecTaskOptions } from '../../sidecar/executor.ts'
import type { HubMessage, SidecarMessage, TaskOutcome } from '../../shared/protocol.ts'
import { silentLogger } from '../../shared/log.ts'

async function setup(queuePath?: string) {
  const sent: SidecarMessage[] = []
  const runs = new Map<string, { finish: (o: TaskOutcome) => void; terminated: number[]; opts: ExecTaskOptions }>()
  let deliver: (m: HubMessage) => void = () => {}
  let open: () => void = () => {}
  const path = queuePath ?? join(await mkdtemp(join(tmpdir(), 'agentcom-cancel-')), 'q.json')
  const queue = await TaskQueue.open(path, silentLogger)
  const sidecar = createSidecar({
    config: {
      hubUrl: 'ws://hub', hubUrls: ['ws://hub'], agentId: 'a-1', token: 'tok', dataDir: '/tmp', taskCommand: 'true',
      processName: null, shutdownGraceMs: 1000, taskDir: '/tmp', taskEnv: [], taskUser: null, statsIntervalMs: 15_000,
      labels: ['gpu'], cancelGraceMs: 1234,
    },
    pm2: { supervised: true, getInfo: async () => null, getStatus: async () => null, getProcessName: async () => null, infoFromEnv: () => null },
    queue,
    connect: (handlers) => {
      deliver = handlers.onMessage
      open = handlers.onOpen
      return { connected: true, send: async (m) => (sent.push(m), true), identified: () => {}, close: async () => {} }
    },
    exec: (opts) => {
      let finish!: (o: TaskOutcome) => void
      const done = new Promise<TaskOutcome>((resolve) => (finish = resolve))
      const run = { finish, terminated: [] as number[], opts }
      runs.set(opts.task.task_id, run)
      return { done, stop: () => finish({ kind: 'interrupted', reason: 'stopped' }), terminate: (ms) => run.terminated.push(ms) }
    },
    log: silentLogger, exit: () => {}, taskEnv: {}, instanceId: 'i-1',
  })
  const running = await sidecar.start()
  open()
  const until = (check: () => void) => waitUntil(check, { timeoutMs: 5000, intervalMs: 5 })
  const of = (type: string) => sent.filter((m) => m.type === type)
  return { sent, runs, queue, path, deliver: (m: HubMessage) => deliver(m), until, of, running }
}

const assign = (task_id: string): HubMessage => ({ type: 'task_assign', task_id, input: {}, timeout_ms: 60_000 })

describe('sidecar task control', () => {
  it('sends its labels in identify', async () => {
    const s = await setup()
    await s.until(() => expect(s.of('identify')).toHaveLength(1))
    expect(s.of('identify')[0]).toMatchObject({ labels: ['gpu'] })
  })

  it('cancel: terminates with the grace, reports only once the task is over, refuses a task meanwhile', async () => {
    const s = await setup()
    s.deliver(assign('t-1'))
    await s.until(() => expect(s.runs.has('t-1')).toBe(true))
    s.deliver({ type: 'task_cancel', task_id: 't-1', reason: 'cancelled' })
    await s.until(() => expect(s.runs.get('t-1')!.terminated).toEqual([1234]))
    s.deliver(assign('t-2'))
    await s.until(() => expect(s.of('task_interrupted')).toHaveLength(1))
    expect(s.of('task_interrupted')[0]).toEqual({ type: 'task_interrupted', task_id: 't-2', reason: 'busy', started: false })
    s.runs.get('t-1')!.finish({ kind: 'interrupted', reason: 'stopped' })
    await s.until(() => expect(s.of('task_interrupted')).toHaveLength(2))
    expect(s.of('task_interrupted')[1]).toEqual({ type: 'task_interrupted', task_id: 't-1', reason: 'cancelled' })
    s.deliver({ type: 'task_ack', task_id: 't-1' })
    await s.until(() => expect(s.queue.active).toBeNull())
    s.deliver(assign('t-3'))
    await s.until(() => expect(s.runs.has('t-3')).toBe(true))
  })

  it('a restart during the cancel reports the task interrupted and never runs it again', async () => {
    const s = await setup()
    s.deliver(assign('t-1'))
    await s.until(() => expect(s.runs.has('t-1')).toBe(true))
    s.deliver({ type: 'task_cancel', task_id: 't-1', reason: 'cancelled' })
    await s.until(() => expect(s.runs.get('t-1')!.terminated).toHaveLength(1))
    // The process dies here; a new one opens the same queue file.
    const again = await setup(s.path)
    await again.until(() => expect(again.of('identify')).toHaveLength(1))
    expect(again.of('identify')[0]).toMatchObject({ active_task_id: 't-1' })
    again.deliver({ type: 'identified', agent_id: 'a-1' })
    await again.until(() => expect(again.of('task_interrupted')).toHaveLength(1))
    expect(again.of('task_interrupted')[0]).toMatchObject({ task_id: 't-1', reason: 'sidecar crashed' })
    expect(again.runs.size).toBe(0)
  })

  it('output goes out before the outcome', async () => {
    const s = await setup()
    s.deliver(assign('t-1'))
    await s.until(() => expect(s.runs.has('t-1')).toBe(true))
    const run = s.runs.get('t-1')!
    run.opts.onOutput!('stdout', Buffer.from('hello '))
    run.opts.onOutput!('stdout', Buffer.from('world'))
    run.finish({ kind: 'complete', result: 'ok' })
    await s.until(() => expect(s.of('task_complete')).toHaveLength(1))
    const order = s.sent.filter((m) => m.type === 'task_output' || m.type === 'task_complete').map((m) => m.type)
    expect(order).toEqual(['task_output', 'task_complete'])
    expect(s.of('task_output')[0]).toEqual({ type: 'task_output', task_id: 't-1', stream: 'stdout', data: 'hello world' })
  })
})

describe('executor terminate', () => {
  /** Running: a zombie (killed, waiting for whoever reaps orphans) is dead. */
  const alive = (pid: number) => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
    } catch {
      return false
    }
  }

  it('SIGTERM to the group; what ignores it is killed at the grace\'s end, and done waits for the group to be empty', async () => {
    const { execTask } = await import('../../sidecar/executor.ts')
    let out = ''
    const task = execTask({
      command: `trap '' TERM; sleep 30 & echo "$!"; wait; wait`,
      task: { task_id: 't', input: null, timeout_ms: 60_000 }, env: { PATH: process.env.PATH },
      onOutput: (_stream, chunk) => (out += chunk.toString()),
    })
    await waitUntil(() => expect(out).toMatch(/^\d+\n$/), { timeoutMs: 5000, intervalMs: 5 })
    const child = Number(out.trim())
    const started = Date.now()
    task.terminate!(400)
    expect(await task.done).toEqual({ kind: 'interrupted', reason: 'stopped' })
    expect(Date.now() - started).toBeGreaterThanOrEqual(350)
    expect(alive(child)).toBe(false)
  })

  it('a group that ends on SIGTERM is over at once, not after the grace', async () => {
    const { execTask } = await import('../../sidecar/executor.ts')
    let out = ''
    const task = execTask({
      command: `sleep 30 & echo "$!"; wait`,
      task: { task_id: 't', input: null, timeout_ms: 60_000 }, env: { PATH: process.env.PATH },
      onOutput: (_stream, chunk) => (out += chunk.toString()),
    })
    await waitUntil(() => expect(out).toMatch(/^\d+\n$/), { timeoutMs: 5000, intervalMs: 5 })
    const started = Date.now()
    task.terminate!(10_000)
    expect(await task.done).toEqual({ kind: 'interrupted', reason: 'stopped' })
    expect(Date.now() - started).toBeLessThan(3000)
    expect(alive(Number(out.trim()))).toBe(false)
  })
})
