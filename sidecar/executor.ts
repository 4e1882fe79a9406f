/**
 * Runs one task: `/bin/sh -c <command>` in its own process group, the task as JSON on stdin.
 * Exit 0: stdout is the result (JSON when it parses, else text). A non-zero exit, a signal,
 * the timeout or an oversized result is a failure with the end of stderr. Output is bounded.
 */
import { spawn } from 'node:child_process'
import type { TaskOutcome } from '../shared/protocol.ts'

/** The largest result sent to the hub; it must fit a 256 KiB frame with room to spare. */
export const MAX_RESULT_BYTES = 192 * 1024
/** How much of the end of stderr is kept for the error. */
export const STDERR_TAIL_BYTES = 4 * 1024

export interface RunningTask {
  /** `interrupted` (reason `stopped`) only after stop(); a signal is named in `failed`. */
  done: Promise<TaskOutcome>
  /** Kills the whole process group now; `done` then resolves `interrupted`, reason `stopped`. */
  stop(): void
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
    stderr = Buffer.concat([stderr, chunk])
    if (stderr.length > STDERR_TAIL_BYTES) stderr = stderr.subarray(stderr.length - STDERR_TAIL_BYTES)
  })
  // A command that never reads stdin closes the pipe early: that is not an error.
  child.stdin.on('error', () => {})
  child.stdin.end(JSON.stringify({ task_id: opts.task.task_id, input: opts.task.input, timeout_ms: opts.task.timeout_ms }))

  let reaped = false
  const killGroup = () => {
    // Once the group is reaped its id may be reused: never signal it again.
    if (reaped) return
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL')
    } catch {
      // The group is already gone.
    }
  }
  const timer = setTimeout(() => {
    timedOut = true
    killGroup()
  }, opts.task.timeout_ms)

  // Background children of the shell must not outlive it (nor hold its stdout open).
  child.on('exit', killGroup)

  const done = new Promise<TaskOutcome>((resolve) => {
    child.on('error', (err) => {
      clearTimeout(timer)
      resolve({ kind: 'failed', error: `could not start task command: ${err.message}` })
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      reaped = true
      const tail = stderr.toString('utf8').trim()
      const withTail = (msg: string) => (tail ? `${msg}: ${tail}` : msg)
      if (stopped) return resolve({ kind: 'interrupted', reason: 'stopped' })
      if (timedOut) return resolve({ kind: 'failed', error: withTail(`timed out after ${opts.task.timeout_ms} ms`) })
      if (signal) return resolve({ kind: 'failed', error: withTail(`killed by ${signal}`), signal })
      if (code !== 0) return resolve({ kind: 'failed', error: withTail(`exit code ${code}`) })
      if (stdoutOverflow) return resolve({ kind: 'failed', error: `result larger than ${MAX_RESULT_BYTES} bytes` })
      resolve({ kind: 'complete', result: parseResult(Buffer.concat(stdout).toString('utf8')) })
    })
  })

  return {
    done,
    stop() {
      stopped = true
      killGroup()
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
