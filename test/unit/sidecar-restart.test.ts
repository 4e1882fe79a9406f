/**
 * The sidecar's restart and task logic, through its seams: a recording hub link, a pm2
 * adapter object, a task runner whose end the test controls, and a real queue file.
 * Deadlines run on fake timers.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { waitUntil } from '../../support/wait.ts'
import { createSidecar } from '../../sidecar/sidecar.ts'
import { TaskQueue } from '../../sidecar/queue.ts'
import type { HubLink } from '../../sidecar/hub-link.ts'
import type { Pm2Adapter } from '../../sidecar/pm2.ts'
import type { HubMessage, SidecarMessage, TaskOutcome } from '../../shared/protocol.ts'
import { silentLogger } from '../../shared/log.ts'

type Event = { sent: SidecarMessage } | { closed: number } | { exit: number } | { stopped: string }

async function setup({ supervised = true, queue, pm2, resendIntervalMs }: {
  supervised?: boolean; queue?: TaskQueue; pm2?: Pm2Adapter; resendIntervalMs?: number
} = {}) {
  const events: Event[] = []
  const tasks = new Map<string, (outcome: TaskOutcome) => void>()
  let deliver: (m: HubMessage) => void = () => {}
  let open: () => void = () => {}
  const q = queue ?? await TaskQueue.open(join(await mkdtemp(join(tmpdir(), 'agentcom-sc-')), 'q.json'), silentLogger)
  const link: HubLink = {
    connected: true,
    send: async (m) => {
      events.push({ sent: m })
      return true
    },
    identified: () => {},
    close: async (code = 1000) => {
      events.push({ closed: code })
    },
  }
  const sidecar = createSidecar({
    config: {
      hubUrl: 'ws://hub', hubUrls: ['ws://hub'], agentId: 'a-1', token: 'tok', dataDir: '/tmp', taskCommand: 'true',
      processName: null, shutdownGraceMs: 1000, taskDir: '/tmp', taskEnv: [], taskUser: null, statsIntervalMs: 15_000,
    },
    pm2: pm2 ?? { supervised, getInfo: async () => null, getStatus: async () => null, getProcessName: async () => null, infoFromEnv: () => null },
    queue: q,
    connect: (handlers) => {
      deliver = handlers.onMessage
      open = handlers.onOpen
      return link
    },
    exec: ({ task }) => {
      let finish!: (o: TaskOutcome) => void
      const done = new Promise<TaskOutcome>((resolve) => (finish = resolve))
      tasks.set(task.task_id, finish)
      return {
        done,
        stop: () => {
          events.push({ stopped: task.task_id })
          finish({ kind: 'interrupted', reason: 'stopped' })
        },
      }
    },
    log: silentLogger,
    exit: (code) => events.push({ exit: code }),
    taskEnv: {},
    instanceId: 'inst-1',
    resendIntervalMs,
  })
  const running = await sidecar.start()
  open()
  const sent = (type: string) => events.flatMap((e) => ('sent' in e && e.sent.type === type ? [e.sent] : []))
  const until = (check: () => void) => waitUntil(check, { timeoutMs: 5000, intervalMs: 5 })
  return { sidecar, running, events, tasks, queue: q, deliver: (m: HubMessage) => deliver(m), sent, until }
}

const restartMsg = (extra: Partial<Extract<HubMessage, { type: 'restart_sidecar' }>> = {}): HubMessage =>
  ({ type: 'restart_sidecar', reason: 'deploy', restart_id: 'r-1', ...extra })
const assign = (task_id: string): HubMessage => ({ type: 'task_assign', task_id, input: { n: 1 }, timeout_ms: 60_000 })

afterEach(() => {
  vi.useRealTimers()
})

describe('restart on command', () => {
  it('when idle: agent_restarting, then close 1012, then exit 0, in that order', async () => {
    const s = await setup()
    s.deliver(restartMsg())
    await s.until(() => expect(s.events.some((e) => 'exit' in e)).toBe(true))
    expect(s.events.filter((e) => !('sent' in e && e.sent.type === 'identify'))).toEqual([
      { sent: { type: 'agent_restarting', reason: 'deploy', restart_id: 'r-1' } },
      { closed: 1012 },
      { exit: 0 },
    ])
  })

  it('outside pm2: answers not_supervised and keeps running', async () => {
    const s = await setup({ supervised: false })
    s.deliver(restartMsg())
    await s.until(() => expect(s.sent('error')).toHaveLength(1))
    expect(s.sent('error')[0]).toMatchObject({ error: 'not_supervised' })
    expect(s.events.some((e) => 'exit' in e || 'closed' in e)).toBe(false)
    expect(s.sidecar.hasPendingRestart()).toBe(false)
  })

  it('graceful while working: waits for the result to be acknowledged, then restarts', async () => {
    const s = await setup()
    s.deliver(assign('t-1'))
    await s.until(() => expect(s.tasks.has('t-1')).toBe(true))
    s.deliver(restartMsg())
    await s.until(() => expect(s.sidecar.hasPendingRestart()).toBe(true))
    expect(s.sent('agent_restarting')).toEqual([])

    s.tasks.get('t-1')!({ kind: 'complete', result: 42 })
    await s.until(() => expect(s.sent('task_complete')).toEqual([{ type: 'task_complete', task_id: 't-1', result: 42 }]))
    expect(s.sent('agent_restarting')).toEqual([])
    s.deliver({ type: 'task_ack', task_id: 't-1' })
    await s.until(() => expect(s.events.at(-1)).toEqual({ exit: 0 }))
    expect(s.queue.active).toBeNull()
  })

  it('refuses new tasks while a restart is pending', async () => {
    const s = await setup()
    s.deliver(assign('t-1'))
    await s.until(() => expect(s.tasks.has('t-1')).toBe(true))
    s.deliver(restartMsg())
    s.deliver(assign('t-2'))
    await s.until(() => expect(s.sent('task_interrupted')).toEqual([{ type: 'task_interrupted', task_id: 't-2', reason: 'restarting', started: false }]))
    expect(s.tasks.has('t-2')).toBe(false)
  })

  it('force: stops the task, reports it interrupted, and restarts at once', async () => {
    const s = await setup()
    s.deliver(assign('t-1'))
    await s.until(() => expect(s.tasks.has('t-1')).toBe(true))
    s.deliver(restartMsg({ mode: 'force' }))
    await s.until(() => expect(s.events.at(-1)).toEqual({ exit: 0 }))
    expect(s.events).toContainEqual({ stopped: 't-1' })
    expect(s.sent('task_interrupted')).toEqual([{ type: 'task_interrupted', task_id: 't-1', reason: 'force restart' }])
    // Kept on disk until acknowledged: the next process reports it again if the hub missed it.
    expect(s.queue.active).toMatchObject({ task_id: 't-1', outcome: { kind: 'interrupted' } })
  })

  it('deadline_s: graceful turns into force when the deadline passes', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const s = await setup()
    s.deliver(assign('t-1'))
    await s.until(() => expect(s.tasks.has('t-1')).toBe(true))
    s.deliver(restartMsg({ deadline_s: 30 }))
    await s.until(() => expect(s.sidecar.hasPendingRestart()).toBe(true))
    await vi.advanceTimersByTimeAsync(29_000)
    expect(s.events.some((e) => 'stopped' in e)).toBe(false)
    await vi.advanceTimersByTimeAsync(1_000)
    await s.until(() => expect(s.events.at(-1)).toEqual({ exit: 0 }))
    expect(s.sent('task_interrupted')).toEqual([{ type: 'task_interrupted', task_id: 't-1', reason: 'restart deadline passed' }])
  })

  it('ignores a repeated command with the same restart_id', async () => {
    const s = await setup()
    s.deliver(assign('t-1'))
    await s.until(() => expect(s.tasks.has('t-1')).toBe(true))
    s.deliver(restartMsg())
    s.deliver(restartMsg())
    await s.until(() => expect(s.sidecar.hasPendingRestart()).toBe(true))
    expect(s.sent('agent_restarting')).toEqual([])
    s.sidecar.clearPendingRestart()
    expect(s.sidecar.hasPendingRestart()).toBe(false)
  })
})

describe('crash recovery', () => {
  let queue: TaskQueue
  beforeEach(async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'agentcom-crash-')), 'q.json')
    const before = await TaskQueue.open(path, silentLogger)
    await before.begin({ task_id: 't-lost', input: 1, timeout_ms: 1000, accepted_at: 1 })
    // The process "crashes" here: a new one opens the same file.
    queue = await TaskQueue.open(path, silentLogger)
  })

  it('identifies with the task it holds and reports it interrupted after identify', async () => {
    const s = await setup({ queue })
    await s.until(() => expect(s.sent('identify')).toHaveLength(1))
    expect(s.sent('identify')[0]).toMatchObject({ active_task_id: 't-lost', supervised: true, instance_id: 'inst-1' })
    expect(s.sent('task_interrupted')).toEqual([])
    s.deliver({ type: 'identified', agent_id: 'a-1' })
    await s.until(() => expect(s.sent('task_interrupted')).toEqual([{ type: 'task_interrupted', task_id: 't-lost', reason: 'sidecar crashed' }]))
    s.deliver({ type: 'task_ack', task_id: 't-lost' })
    await s.until(() => expect(s.queue.active).toBeNull())
  })
})

describe('pm2 info', () => {
  const fromEnv = { name: 'agentcom-a-1', pm_id: 3, pid: 4242, status: 'online', uptime_ms: 80, restart_count: 2, memory_bytes: null }
  const fromJlist = { ...fromEnv, uptime_ms: 95, memory_bytes: 61_000_000 }
  function pm2Stub(envInfo: typeof fromEnv | null) {
    const getInfo = vi.fn(async () => fromJlist)
    const pm2: Pm2Adapter = {
      supervised: true, getInfo, getStatus: async () => 'online', getProcessName: async () => 'agentcom-a-1', infoFromEnv: () => envInfo,
    }
    return { pm2, getInfo }
  }

  it("identifies with pm2's environment without running pm2, then reports pm2's own view once identified", async () => {
    const { pm2, getInfo } = pm2Stub(fromEnv)
    const s = await setup({ pm2 })
    await s.until(() => expect(s.sent('identify')).toHaveLength(1))
    expect(s.sent('identify')[0]).toMatchObject({ pm2_info: fromEnv, supervised: true })
    expect(getInfo).not.toHaveBeenCalled()
    s.deliver({ type: 'identified', agent_id: 'a-1' })
    await s.until(() => expect(s.sent('pm2_info')).toEqual([{ type: 'pm2_info', pm2_info: fromJlist }]))
  })

  it('asks pm2 before identifying when its environment says too little', async () => {
    const { pm2, getInfo } = pm2Stub(null)
    const s = await setup({ pm2 })
    await s.until(() => expect(s.sent('identify')).toHaveLength(1))
    expect(s.sent('identify')[0]).toMatchObject({ pm2_info: fromJlist })
    expect(getInfo).toHaveBeenCalledTimes(1)
  })
})

describe('shutdown by signal', () => {
  it('lets a task finish within the grace, reports it, and closes 1001', async () => {
    const s = await setup()
    s.deliver(assign('t-1'))
    await s.until(() => expect(s.tasks.has('t-1')).toBe(true))
    const stopping = s.running.stop(10_000)
    s.tasks.get('t-1')!({ kind: 'complete', result: 'done' })
    await stopping
    expect(s.sent('task_complete')).toEqual([{ type: 'task_complete', task_id: 't-1', result: 'done' }])
    expect(s.events.at(-1)).toEqual({ closed: 1001 })
  })

  it('reports the task interrupted when the grace runs out', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const s = await setup()
    s.deliver(assign('t-1'))
    await s.until(() => expect(s.tasks.has('t-1')).toBe(true))
    const stopping = s.running.stop(1000)
    await vi.advanceTimersByTimeAsync(1000)
    await stopping
    expect(s.events).toContainEqual({ stopped: 't-1' })
    expect(s.sent('task_interrupted')).toEqual([{ type: 'task_interrupted', task_id: 't-1', reason: 'sidecar shut down' }])
  })
})

describe('a disk that fails, and a hub that does not acknowledge', () => {
  it('refuses a task it cannot write to its queue file, with storage_unavailable, and stays free', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agentcom-qfail-'))
    const queue = await TaskQueue.open(join(dir, 'data', 'q.json'), silentLogger)
    const s = await setup({ queue })
    // A real failure as root too: the queue's directory is replaced by a file.
    await rm(join(dir, 'data'), { recursive: true })
    await writeFile(join(dir, 'data'), 'not a directory')
    s.deliver(assign('t-1'))
    await s.until(() => expect(s.sent('task_interrupted')).toEqual([
      { type: 'task_interrupted', task_id: 't-1', reason: 'storage_unavailable', started: false },
    ]))
    expect(s.sent('task_accepted')).toEqual([])
    expect(s.tasks.has('t-1')).toBe(false)
    expect(queue.busy).toBe(false)
    // Not wedged: once the disk is back, the next task runs.
    await rm(join(dir, 'data'))
    await mkdir(join(dir, 'data'))
    s.deliver(assign('t-2'))
    await s.until(() => expect(s.sent('task_accepted')).toEqual([{ type: 'task_accepted', task_id: 't-2' }]))
    expect(queue.active?.task_id).toBe('t-2')
  })

  it('sends an unacknowledged outcome again, while identified, until the hub acknowledges it', async () => {
    const s = await setup({ resendIntervalMs: 20 })
    s.deliver({ type: 'identified', agent_id: 'a-1' })
    s.deliver(assign('t-1'))
    await s.until(() => expect(s.tasks.has('t-1')).toBe(true))
    s.tasks.get('t-1')!({ kind: 'complete', result: 7 })
    await s.until(() => expect(s.sent('task_complete').length).toBeGreaterThanOrEqual(3))
    expect(new Set(s.sent('task_complete').map((m) => JSON.stringify(m)))).toEqual(new Set(['{"type":"task_complete","task_id":"t-1","result":7}']))
    s.deliver({ type: 'task_ack', task_id: 't-1' })
    await s.until(() => expect(s.queue.active).toBeNull())
    const count = s.sent('task_complete').length
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(s.sent('task_complete')).toHaveLength(count)
    await s.running.stop()
  })
})
