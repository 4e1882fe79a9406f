/**
 * Runs one task: `/bin/sh -c <command>` in its own process group, the task as JSON on stdin.
 * Exit 0: stdout is the result (JSON when it parses, else text). A non-zero exit, a signal,
 * the timeout or an oversized result is a failure with the end of stderr. Output is bounded.
 * The task is over when its process exits: whatever it left behind holding the output open
 * (a daemon, a `setsid` child) gets OUTPUT_GRACE_MS more, then the pipes are closed on it.
 */
import { spawn } from 'node:child_process'
import { MAX_RESULT_BYTES, RESULT_TOO_LARGE, jsonBytes, type TaskOutcome } from '../shared/protocol.ts'

export { MAX_RESULT_BYTES } from '../shared/protocol.ts'
/** After the task process exits, how long the rest of its output may take. */
export const OUTPUT_GRACE_MS = 1000
/** While a cancelled task's group has its grace, how often the executor looks whether it is empty. */
const GROUP_POLL_MS = 50
/** After the SIGKILL at a cancel's grace, how long the group may take to be reaped before the task is over anyway. */
const REAP_WAIT_MS = 1000
/** How much of the end of stderr is kept for the error. */
export const STDERR_TAIL_BYTES = 4 * 1024

export interface RunningTask {
  /** `interrupted` (reason `stopped`) only after stop(); a signal is named in `failed`. */
  done: Promise<TaskOutcome>
  /** Kills the whole process group now; `done` then resolves `interrupted`, reason `stopped`. */
  stop(): void
  /**
   * SIGTERM to the whole process group, SIGKILL to it `graceMs` later; `done` resolves
   * (`interrupted`, `stopped`) only once no process is left in the group.
   */
  terminate?(graceMs: number): void
}

export interface ExecTaskOptions {
  command: string
  task: { task_id: string; input: unknown; timeout_ms: number }
  /** The task's whole environment (task-context.ts builds it); nothing else is inherited. */
  env?: Record<string, string | undefined>
  cwd?: string
  /** Run as this user and group (the sidecar must be root). */
  uid?: number
  gid?: number
  /** Each chunk the task writes, as it comes (the live output; the result is read as before). */
  onOutput?(stream: 'stdout' | 'stderr', chunk: Buffer): void
}

export function execTask(opts: ExecTaskOptions): RunningTask {
  const child = spawn('/bin/sh', ['-c', opts.command], {
    detached: true, // its own process group, so a timeout or stop kills everything it started
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...opts.env, AGENTCOM_TASK_ID: opts.task.task_id },
    cwd: opts.cwd,
    // libuv drops the supplementary groups too when it switches users.
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
    ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
  })
  let stdout: Buffer[] = []
  let stdoutBytes = 0
  let stdoutOverflow = false
  let stderr = Buffer.alloc(0)
  let timedOut = false
  let stopped = false

  child.stdout.on('data', (chunk: Buffer) => {
    opts.onOutput?.('stdout', chunk)
    if (stdoutOverflow) return
    stdoutBytes += chunk.length
    if (stdoutBytes > MAX_RESULT_BYTES) {
      stdoutOverflow = true
      stdout = []
    } else {
      stdout.push(chunk)
    }
  })
  child.stderr.on('data', (chunk: Buffer) => {
    opts.onOutput?.('stderr', chunk)
    stderr = Buffer.concat([stderr, chunk])
    if (stderr.length > STDERR_TAIL_BYTES) stderr = stderr.subarray(stderr.length - STDERR_TAIL_BYTES)
  })
  // A command that never reads stdin closes the pipe early: that is not an error.
  child.stdin.on('error', () => {})
  child.stdin.end(JSON.stringify({ task_id: opts.task.task_id, input: opts.task.input, timeout_ms: opts.task.timeout_ms }))

  let reaped = false
  /** terminate() was called: the group has its grace, even after the task process exits. */
  let terminating = false
  let groupGone = false
  let killTimer: ReturnType<typeof setTimeout> | undefined
  let groupWatch: ReturnType<typeof setInterval> | undefined
  const signalGroup = (signal: NodeJS.Signals) => {
    // Once the group is reaped its id may be reused: never signal it again.
    if (reaped) return
    try {
      if (child.pid) process.kill(-child.pid, signal)
    } catch {
      // The group is already gone.
    }
  }
  const killGroup = () => signalGroup('SIGKILL')
  const timer = setTimeout(() => {
    timedOut = true
    killGroup()
  }, opts.task.timeout_ms)

  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null
  let onGroupGone = () => {}
  /** Whether any process is left in the task's group (signal 0 only asks). */
  const groupAlive = () => {
    try {
      if (child.pid) process.kill(-child.pid, 0)
      return child.pid !== undefined
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM'
    }
  }
  let outputTimer: ReturnType<typeof setTimeout> | undefined

  const done = new Promise<TaskOutcome>((resolve) => {
    let settled = false
    child.on('exit', (code, signal) => {
      exit = { code, signal }
      clearTimeout(timer)
      // Background children of the shell must not outlive it (nor hold its stdout open); while
      // terminating, they keep their grace (the group's id stays taken while they live).
      if (!terminating) {
        killGroup()
        reaped = true
      }
      // One that left the group (setsid) may still hold the pipes: the task is over regardless.
      outputTimer = setTimeout(() => {
        child.stdout.destroy()
        child.stderr.destroy()
        finish()
      }, OUTPUT_GRACE_MS)
    })
    child.on('error', (err) => {
      clearTimeout(timer)
      if (settled || exit) return
      settled = true
      resolve({ kind: 'failed', error: `could not start task command: ${err.message}` })
    })
    const finish = () => {
      clearTimeout(outputTimer)
      if (settled || !exit || (terminating && !groupGone)) return
      settled = true
      const { code, signal } = exit
      const tail = stderr.toString('utf8').trim()
      const withTail = (msg: string) => (tail ? `${msg}: ${tail}` : msg)
      if (stopped) return resolve({ kind: 'interrupted', reason: 'stopped' })
      if (timedOut) return resolve({ kind: 'failed', error: withTail(`timed out after ${opts.task.timeout_ms} ms`) })
      if (signal) return resolve({ kind: 'failed', error: withTail(`killed by ${signal}`), signal })
      if (code !== 0) return resolve({ kind: 'failed', error: withTail(`exit code ${code}`) })
      if (stdoutOverflow) return resolve({ kind: 'failed', error: RESULT_TOO_LARGE })
      const result = parseResult(Buffer.concat(stdout).toString('utf8'))
      // Measured as sent: text escaped into JSON can outgrow the output it came from.
      if (jsonBytes(result) > MAX_RESULT_BYTES) return resolve({ kind: 'failed', error: RESULT_TOO_LARGE })
      resolve({ kind: 'complete', result })
    }
    child.on('close', finish)
    onGroupGone = finish
  })

  return {
    done,
    stop() {
      stopped = true
      killGroup()
    },
    terminate(graceMs) {
      if (terminating) return
      if (reaped) return this.stop()
      stopped = true
      terminating = true
      signalGroup('SIGTERM')
      const over = () => {
        clearInterval(groupWatch)
        clearTimeout(killTimer)
        groupGone = true
        reaped = true
        onGroupGone()
      }
      killTimer = setTimeout(() => {
        killGroup()
        // Killed: what still counts as the group is zombies waiting for whoever reaps orphans
        // (which may be slow, or never): the task is over all the same.
        killTimer = setTimeout(over, REAP_WAIT_MS)
      }, graceMs)
      groupWatch = setInterval(() => {
        if (!groupAlive()) over()
      }, GROUP_POLL_MS)
    },
  }
}

function parseResult(text: string): unknown {
  const trimmed = text.trim()
  try {
    return JSON.parse(trimmed)
  } catch {
    return trimmed
  }
}
