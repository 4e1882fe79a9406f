/**
 * The seam through which every external command (pm2) runs. Declares only what is used,
 * so tests can pass a stub that records its calls.
 */
import { execFile } from 'node:child_process'

export interface RunResult {
  stdout: string
  stderr: string
  /** null when the command did not exit normally (missing binary, timeout, signal). */
  exitCode: number | null
  /** Why it did not exit normally, e.g. `ENOENT` or `timeout`. */
  error?: string
}

export interface CommandRunner {
  run(
    file: string,
    args: readonly string[],
    opts?: { timeoutMs?: number; env?: Record<string, string> },
  ): Promise<RunResult>
}

/** Runs with `execFile`: no shell, a timeout (default 5 s), output capped at 8 MiB. */
export const execRunner: CommandRunner = {
  run(file, args, opts = {}) {
    return new Promise((resolve) => {
      execFile(
        file,
        args,
        {
          timeout: opts.timeoutMs ?? 5000,
          maxBuffer: 8 * 1024 * 1024,
          env: { ...process.env, ...opts.env },
          windowsHide: true,
        },
        (err, stdout, stderr) => {
          if (!err) return resolve({ stdout, stderr, exitCode: 0 })
          const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number }
          if (typeof e.code === 'number') return resolve({ stdout, stderr, exitCode: e.code })
          resolve({ stdout, stderr, exitCode: null, error: e.killed ? 'timeout' : String(e.code ?? e.message) })
        },
      )
    })
  },
}
