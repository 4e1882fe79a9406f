/**
 * The sidecar: identifies to the hub and executes one task at a time with its state on disk
 * (this file's state machine). Restarts on the hub's command and shutdown are the restart
 * controller's (restart-controller.ts). Every collaborator is passed in; main.ts builds the
 * real ones.
 */
import type { HubMessage, SidecarMessage, TaskOutcome } from '../shared/protocol.ts'
import { CLOSE, PROTOCOL_VERSION, STORAGE_UNAVAILABLE } from '../shared/protocol.ts'
import type { Logger } from '../shared/log.ts'
import type { HubLink, HubLinkOptions } from './hub-link.ts'
import type { Pm2Adapter } from './pm2.ts'
import type { TaskQueue } from './queue.ts'
import type { ExecTaskOptions, RunningTask } from './executor.ts'
import { SIDECAR_DEFAULTS, type SidecarConfig } from './config.ts'
import { createRestartController } from './restart-controller.ts'
import { createStatsReporter, type StatsSampler } from './stats.ts'
import { createOutputPump } from './output-pump.ts'

export interface SidecarDeps {
  config: SidecarConfig
  pm2: Pm2Adapter
  queue: TaskQueue
  connect(handlers: Pick<HubLinkOptions, 'onOpen' | 'onMessage' | 'onClose'>): HubLink
  exec(opts: ExecTaskOptions): RunningTask
  log: Logger
  /** Ends the process (main.ts: process.exit). Called once, after the socket is closed. */
  exit(code: number): void
  /** Environment for task commands (task-context.ts: an allowlist, never a credential). */
  taskEnv: Record<string, string | undefined>
  /** Makes sure the task dir exists before a task runs in it (main.ts: prepareTaskDir). */
  prepareTaskDir?(): Promise<void>
  instanceId: string
  /** Host facts sent with identify (main.ts: the package version, os and process). Default none. */
  hostFacts?: { version: string; node_version: string; hostname: string; platform: string; arch: string }
  /** An outcome the hub has not acknowledged is sent again this often. Default RESEND_INTERVAL_MS. */
  resendIntervalMs?: number
  /** Reads this process's stats for the `stats` frame; without it none are sent. */
  stats?: StatsSampler
}

/**
 * How often an unacknowledged outcome is sent again while identified. The hub acknowledges
 * only once it has saved the outcome; while its saves fail it stays silent, and this resend
 * is what brings the outcome in once they work again, with no reconnect needed.
 */
export const RESEND_INTERVAL_MS = 5000

export function createSidecar(deps: SidecarDeps) {
  const { config, pm2, queue, log } = deps
  let link: HubLink | null = null
  let running: RunningTask | null = null
  /** The task's whole life (run, persist, report), so shutdown can wait for it. */
  let work: Promise<void> = Promise.resolve()
  let identified = false
  /** The task a cancel is stopping (a repeated cancel leaves its grace alone). */
  let cancelling: string | null = null
  const resendTimer = setInterval(() => {
    const active = queue.active
    if (identified && active?.outcome) void send(outcomeMessage(active.task_id, active.outcome))
  }, deps.resendIntervalMs ?? RESEND_INTERVAL_MS)
  // Never what keeps the process alive.
  resendTimer.unref?.()

  const send = (message: SidecarMessage) => link?.send(message) ?? Promise.resolve(false)
  const stats = deps.stats
    ? createStatsReporter({ intervalMs: config.statsIntervalMs, sampler: deps.stats, send })
    : null
  const restarts = createRestartController({
    supervised: pm2.supervised, log, send, exit: deps.exit,
    isBusy: () => queue.busy,
    interrupt,
    closeLink: (code, reason) => link?.close(code, reason) ?? Promise.resolve(),
  })

  /**
   * The identify carries what pm2 put in this process's environment (enough for the hub to
   * see a restart completed), so no `pm2 jlist` delays it; pm2's full answer follows once
   * identified. Only a process under pm2 without that environment asks pm2 first.
   */
  async function identify(): Promise<void> {
    const pm2Info = pm2.supervised ? pm2.infoFromEnv() ?? await pm2.getInfo() : null
    await send({
      type: 'identify', agent_id: config.agentId, token: config.token, protocol_version: PROTOCOL_VERSION,
      pm2_info: pm2Info, supervised: pm2.supervised, instance_id: deps.instanceId,
      active_task_id: queue.active?.task_id ?? null, labels: config.labels ?? [],
      ...deps.hostFacts,
    })
  }

  async function reportPm2Info(): Promise<void> {
    if (!pm2.supervised) return
    const info = await pm2.getInfo()
    if (info) await send({ type: 'pm2_info', pm2_info: info })
  }

  /** After identify: report what the hub has not acknowledged yet. */
  function resync(): void {
    const active = queue.active
    if (!active) return
    if (active.outcome) void send(outcomeMessage(active.task_id, active.outcome))
    else void send({ type: 'task_accepted', task_id: active.task_id })
  }

  function onMessage(msg: HubMessage): void {
    switch (msg.type) {
      case 'identified':
        identified = true
        link?.identified()
        log.info('identified', { agent_id: msg.agent_id })
        resync()
        void reportPm2Info().catch((err) => log.warn('pm2 info not reported', { error: String(err) }))
        return stats?.identified()
      case 'pong':
        return
      case 'error':
        return log.warn('hub reported an error', { error: msg.error, detail: msg.detail ?? null })
      case 'task_assign':
        work = assign(msg).catch((err) => log.error('task failed to run', { task_id: msg.task_id, error: String(err) }))
        return
      case 'task_ack':
        return void acknowledged(msg.task_id).catch((err) => log.error('task ack failed', { error: String(err) }))
      case 'task_cancel':
        return void (msg.reason === 'cancelled' ? cancelled(msg.task_id) : cancel(msg.task_id))
          .catch((err) => log.error('task cancel failed', { error: String(err) }))
      case 'restart_sidecar':
        return void restarts.command(msg.reason, msg.restart_id, msg.mode ?? 'graceful', msg.deadline_s ?? null)
    }
  }

  async function assign(msg: Extract<HubMessage, { type: 'task_assign' }>): Promise<void> {
    if (queue.active?.task_id === msg.task_id) {
      if (!queue.active.outcome) await send({ type: 'task_accepted', task_id: msg.task_id })
      return
    }
    if (queue.busy || restarts.isRestarting()) {
      // Not ours to run now: the hub queues it again at once.
      await send({ type: 'task_interrupted', task_id: msg.task_id, reason: restarts.isRestarting() ? 'restarting' : 'busy', started: false })
      return
    }
    // On disk before it is accepted: a crash from here on is reported, never lost.
    try {
      await queue.begin({ task_id: msg.task_id, input: msg.input, timeout_ms: msg.timeout_ms, accepted_at: Date.now() })
    } catch (err) {
      // Nothing changed here: refused, with a reason the hub counts as an attempt.
      log.error('could not write the queue file; refusing the task', { task_id: msg.task_id, error: String(err) })
      await send({ type: 'task_interrupted', task_id: msg.task_id, reason: STORAGE_UNAVAILABLE, started: false })
      return
    }
    await send({ type: 'task_accepted', task_id: msg.task_id })
    log.info('task started', { task_id: msg.task_id })
    if (!config.taskCommand) {
      return settle(msg.task_id, { kind: 'failed', error: 'AGENTCOM_TASK_COMMAND is not set on this sidecar' })
    }
    try {
      await deps.prepareTaskDir?.()
    } catch (err) {
      return settle(msg.task_id, { kind: 'failed', error: `task dir unusable: ${(err as Error).message}` })
    }
    // Cancelled (or taken back) before it started: nothing to run.
    if (queue.active?.task_id !== msg.task_id || queue.active.outcome) return
    const output = createOutputPump(msg.task_id, send)
    const task = deps.exec({
      command: config.taskCommand, task: { task_id: msg.task_id, input: msg.input, timeout_ms: msg.timeout_ms },
      env: deps.taskEnv, cwd: config.taskDir, uid: config.taskUser?.uid, gid: config.taskUser?.gid,
      onOutput: (stream, chunk) => output.write(stream, chunk),
    })
    running = task
    const outcome = await task.done
    // Before the outcome: the hub then has all the output when the task ends.
    await output.finish()
    if (running === task) running = null
    if (outcome.kind === 'complete') return settle(msg.task_id, outcome)
    // A stopped task was already settled by whoever stopped it.
    if (outcome.kind === 'interrupted') return
    // Killed by a signal while we shut down (it reached the task too): not the task's fault.
    if (restarts.exiting && outcome.signal) return settle(msg.task_id, { kind: 'interrupted', reason: `sidecar shutting down (${outcome.signal})` })
    return settle(msg.task_id, { kind: 'failed', error: outcome.error })
  }

  async function settle(taskId: string, outcome: TaskOutcome): Promise<void> {
    if (queue.active?.task_id !== taskId) return
    // Sent even if the write fails: the outcome is in memory and resent until acknowledged.
    await queue.finish(outcome).catch((err) => log.error('could not write the outcome to the queue file', { task_id: taskId, error: String(err) }))
    log.info('task finished', { task_id: taskId, outcome: outcome.kind })
    await send(outcomeMessage(taskId, outcome))
  }

  async function acknowledged(taskId: string): Promise<void> {
    if (queue.active?.task_id !== taskId || !queue.active.outcome) return
    await queue.clear()
    await restarts.taskCleared()
  }

  async function cancel(taskId: string): Promise<void> {
    if (queue.active?.task_id !== taskId) return
    log.warn('task cancelled by the hub', { task_id: taskId })
    running?.stop()
    running = null
    await queue.clear()
    await restarts.taskCleared()
  }

  /**
   * An operator cancelled the task: SIGTERM to its process group, SIGKILL after the cancel
   * grace, then it is reported interrupted (reason `cancelled`); the hub, which has it
   * cancelled already, acknowledges and runs it nowhere again. Reported only once the process
   * is gone, so no next task starts while it still runs.
   */
  async function cancelled(taskId: string): Promise<void> {
    const active = queue.active
    // Over already (its outcome is on its way to the hub, which ignores it), or being stopped.
    if (active?.task_id !== taskId || active.outcome || cancelling === taskId) return
    cancelling = taskId
    const graceMs = config.cancelGraceMs ?? SIDECAR_DEFAULTS.cancelGraceMs
    log.warn('task cancelled', { task_id: taskId, grace_ms: graceMs })
    const task = running
    if (task) {
      if (task.terminate) task.terminate(graceMs)
      else task.stop()
      await task.done
      if (running === task) running = null
    }
    await settle(taskId, { kind: 'interrupted', reason: 'cancelled' })
  }

  /** Stops the running task and records it as interrupted, so the hub runs it again. */
  async function interrupt(reason: string): Promise<void> {
    const active = queue.active
    if (!active || active.outcome) return
    running?.stop()
    running = null
    await settle(active.task_id, { kind: 'interrupted', reason })
  }

  /**
   * Shutdown by signal (someone ran `pm2 restart` or `pm2 stop`): let the task finish within
   * the grace period, else record it interrupted so the hub runs it again.
   */
  async function shutdown(graceMs: number): Promise<void> {
    if (!restarts.beginShutdown()) return
    if (queue.running) {
      log.info('shutting down; waiting for the running task', { grace_ms: graceMs })
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))])
      clearTimeout(timer)
    }
    if (queue.running) {
      const active = queue.active!
      running?.stop()
      await queue.finish({ kind: 'interrupted', reason: 'sidecar shut down' }).catch((err) => log.error('could not write the queue file', { error: String(err) }))
      await send(outcomeMessage(active.task_id, queue.active!.outcome!))
    }
    clearInterval(resendTimer)
    await link?.close(CLOSE.GOING_AWAY, 'shutting down')
    stats?.close()
  }

  return {
    /** Reports a task left by a crash, then connects. */
    async start(): Promise<{ stop(graceMs?: number): Promise<void> }> {
      const active = queue.active
      if (active && !active.outcome) {
        log.warn('found a task interrupted by a crash; it will run again', { task_id: active.task_id })
        // In memory at least: reported after identify, and the run-again is the hub's either way.
        await queue.finish({ kind: 'interrupted', reason: 'sidecar crashed' }).catch((err) => log.error('could not write the queue file', { error: String(err) }))
      }
      link = deps.connect({
        onOpen: () => void identify().catch((err) => log.error('identify failed', { error: String(err) })),
        onMessage,
        onClose: (code) => {
          identified = false
          stats?.disconnected()
          if (code === CLOSE.UNAUTHORIZED) log.error('hub refused the token', { agent_id: config.agentId })
        },
      })
      return { stop: (graceMs = config.shutdownGraceMs) => shutdown(graceMs) }
    },
    gracefulRestart: restarts.command,
    hasPendingRestart: restarts.hasPending,
    clearPendingRestart: restarts.clearPending,
  }
}

function outcomeMessage(taskId: string, outcome: TaskOutcome): SidecarMessage {
  switch (outcome.kind) {
    case 'complete':
      return { type: 'task_complete', task_id: taskId, result: outcome.result }
    case 'failed':
      return { type: 'task_failed', task_id: taskId, error: outcome.error }
    case 'interrupted':
      return { type: 'task_interrupted', task_id: taskId, reason: outcome.reason }
  }
}
