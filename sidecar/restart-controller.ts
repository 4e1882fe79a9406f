/**
 * The sidecar's restart and shutdown state: a restart commanded by the hub (graceful waits for
 * the task's outcome to be acknowledged, force interrupts it, a deadline turns graceful into
 * force), and the one-way step into exiting. The sidecar's half of the hub fleet's restart
 * handling; the task state machine (sidecar.ts) asks it whether new work may start.
 */
import { CLOSE, ERROR, type RestartMode, type SidecarMessage } from '../shared/protocol.ts'
import type { Logger } from '../shared/log.ts'
import { SECOND } from '../shared/time.ts'

export interface RestartControllerDeps {
  /** Only under pm2 does an exit come back as a restart. */
  supervised: boolean
  log: Logger
  send(message: SidecarMessage): Promise<boolean>
  /** True while a task runs or its outcome waits for the hub's acknowledgement. */
  isBusy(): boolean
  /** Stops the running task and records it interrupted, so the hub runs it again. */
  interrupt(reason: string): Promise<void>
  /** Closes the hub link for good; resolves once the socket is closed. */
  closeLink(code: number, reason: string): Promise<void>
  /** Ends the process; pm2 starts it again. */
  exit(code: number): void
}

interface PendingRestart {
  restart_id: string
  reason: string
  mode: RestartMode
  deadline: ReturnType<typeof setTimeout> | null
}

export function createRestartController(deps: RestartControllerDeps) {
  const { log, send } = deps
  let pending: PendingRestart | null = null
  let exiting = false

  function clearPending(): void {
    if (pending?.deadline) clearTimeout(pending.deadline)
    pending = null
  }

  /** Tells the hub, waits for that frame to be written, closes 1012, exits 0 for pm2. */
  async function restartNow(): Promise<void> {
    if (exiting || !pending) return
    exiting = true
    const { reason, restart_id } = pending
    await send({ type: 'agent_restarting', reason, restart_id })
    log.info('restarting', { restart_id })
    await deps.closeLink(CLOSE.SERVICE_RESTART, 'restarting')
    deps.exit(0)
  }

  /**
   * The hub's restart command. Idle: restart now. Working: graceful waits for the task's
   * result to be acknowledged (force once `deadline_s` passes); force interrupts it now.
   * Outside pm2 it answers not_supervised and keeps running: nothing would bring it back.
   */
  async function command(reason: string, restartId: string, mode: RestartMode, deadlineS: number | null): Promise<void> {
    if (!deps.supervised) {
      log.warn('restart refused: not running under pm2', { restart_id: restartId })
      await send({ type: 'error', error: ERROR.NOT_SUPERVISED, detail: 'this sidecar does not run under pm2' })
      return
    }
    if (pending?.restart_id === restartId && mode === pending.mode) {
      if (!deps.isBusy()) await restartNow()
      return
    }
    clearPending()
    pending = { restart_id: restartId, reason, mode, deadline: null }
    log.info('restart commanded', { restart_id: restartId, mode, deferred: deps.isBusy() })
    if (mode === 'force') await deps.interrupt('force restart')
    if (!deps.isBusy() || mode === 'force') return restartNow()
    if (deadlineS !== null) {
      pending.deadline = setTimeout(() => {
        log.warn('restart deadline passed; forcing', { restart_id: restartId })
        if (pending) pending.mode = 'force'
        void deps.interrupt('restart deadline passed').then(restartNow)
      }, deadlineS * SECOND)
    }
  }

  return {
    command,
    /** The task's outcome was acknowledged or the task cancelled: a waiting restart goes ahead. */
    async taskCleared(): Promise<void> {
      if (pending) await restartNow()
    },
    /** Neither a new task nor a repeat of one may start: a restart waits or the process exits. */
    isRestarting(): boolean {
      return pending !== null || exiting
    },
    get exiting(): boolean {
      return exiting
    },
    hasPending(): boolean {
      return pending !== null
    },
    clearPending,
    /** Shutdown by signal: drops a waiting restart. False if the process already exits. */
    beginShutdown(): boolean {
      if (exiting) return false
      exiting = true
      clearPending()
      return true
    },
  }
}

export type RestartController = ReturnType<typeof createRestartController>
