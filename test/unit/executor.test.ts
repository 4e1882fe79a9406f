import { mkdtemp, readFile, realpath, rm } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { waitFor } from '../../support/wait.ts'
import { execTask, MAX_RESULT_BYTES, OUTPUT_GRACE_MS, STDERR_TAIL_BYTES, type ExecTaskOptions } from '../../sidecar/executor.ts'

const ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin' }
/** How these tests wait for a process: often, and not long. */
const SOON = { timeoutMs: 5000, intervalMs: 10 }

function run(command: string, opts: Partial<ExecTaskOptions> & { timeoutMs?: number; input?: unknown } = {}) {
  return execTask({
    command,
    task: { task_id: 'task-1', input: opts.input ?? null, timeout_ms: opts.timeoutMs ?? 10_000 },
    env: opts.env ?? ENV,
    ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
  })
}

/**
 * False once the process is gone. A killed orphan can stay a zombie ('Z') when the container's
 * init does not reap; a zombie runs nothing, so it counts as gone.
 */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false
    throw err
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false // reaped between the two checks
  }
}

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agentcom-exec-'))
})
afterEach(async () => {
  vi.unstubAllEnvs()
  await rm(dir, { recursive: true, force: true })
})

describe('results', () => {
  it('parses JSON on stdout', async () => {
    expect(await run(`printf '{"answer":42,"list":[1,"two"]}\\n'`).done)
      .toEqual({ kind: 'complete', result: { answer: 42, list: [1, 'two'] } })
  })

  it('returns other output as trimmed text', async () => {
    expect(await run(`printf '  hello world\\n\\n'`).done).toEqual({ kind: 'complete', result: 'hello world' })
  })

  it('returns empty output as an empty string', async () => {
    expect(await run('true').done).toEqual({ kind: 'complete', result: '' })
  })

  it('ignores stderr when the command succeeds', async () => {
    expect(await run(`echo warning >&2; echo '"fine"'`).done).toEqual({ kind: 'complete', result: 'fine' })
  })

  it('accepts a result of exactly MAX_RESULT_BYTES as JSON', async () => {
    // A JSON string: two quotes and MAX_RESULT_BYTES - 2 letters.
    const outcome = await run(`printf '"'; head -c ${MAX_RESULT_BYTES - 2} /dev/zero | tr '\\0' a; printf '"'`).done
    expect(outcome).toEqual({ kind: 'complete', result: 'a'.repeat(MAX_RESULT_BYTES - 2) })
  })

  it('fails with result_too_large a result one byte over MAX_RESULT_BYTES as JSON', async () => {
    // Text of MAX_RESULT_BYTES - 1 letters is sent as a JSON string of MAX_RESULT_BYTES + 1 bytes.
    expect(await run(`head -c ${MAX_RESULT_BYTES - 1} /dev/zero | tr '\\0' a`).done)
      .toEqual({ kind: 'failed', error: 'result_too_large' })
  })

  it('measures the result as sent: text that escapes into more than MAX_RESULT_BYTES fails', async () => {
    // 100 000 quotes: 100 KB of output, 200 KB once escaped into a JSON string.
    expect(MAX_RESULT_BYTES).toBe(192 * 1024)
    expect(await run(`head -c 100000 /dev/zero | tr '\\0' '"'`).done)
      .toEqual({ kind: 'failed', error: 'result_too_large' })
  })

  it('fails a huge result without waiting on a blocked writer', async () => {
    // 4 MiB: if the executor stopped reading, the writer would block on a full pipe forever.
    expect(await run(`head -c 4194304 /dev/zero`).done)
      .toEqual({ kind: 'failed', error: 'result_too_large' })
  })
})

describe('the task it is given', () => {
  it('writes the task as JSON to stdin', async () => {
    const outcome = await execTask({
      command: 'cat',
      task: { task_id: 'task-7', input: { prompt: 'hi', n: [1, 2] }, timeout_ms: 9000 },
      env: ENV,
    }).done
    expect(outcome).toEqual({ kind: 'complete', result: { task_id: 'task-7', input: { prompt: 'hi', n: [1, 2] }, timeout_ms: 9000 } })
  })

  it('is not an error when the command does not read stdin', async () => {
    expect(await run('echo done', { input: 'x'.repeat(1024 * 1024) }).done).toEqual({ kind: 'complete', result: 'done' })
  })

  it('sets AGENTCOM_TASK_ID over any inherited value, next to the given env', async () => {
    const outcome = await run(`printf '%s|%s' "$AGENTCOM_TASK_ID" "$GIVEN"`, {
      env: { ...ENV, GIVEN: 'yes', AGENTCOM_TASK_ID: 'stale' },
    }).done
    expect(outcome).toEqual({ kind: 'complete', result: 'task-1|yes' })
  })

  it("gets only the env it is given, not the sidecar's", async () => {
    vi.stubEnv('AGENTCOM_EXEC_TEST_LEAK', 'leaked')
    expect(await run(`printf '%s' "\${AGENTCOM_EXEC_TEST_LEAK-unset}"`).done).toEqual({ kind: 'complete', result: 'unset' })
  })

  it('runs in the given cwd', async () => {
    expect(await run('pwd -P', { cwd: dir }).done).toEqual({ kind: 'complete', result: await realpath(dir) })
  })

  it('reports a command that cannot start', async () => {
    expect(await run('true', { cwd: join(dir, 'missing') }).done)
      .toEqual({ kind: 'failed', error: 'could not start task command: spawn /bin/sh ENOENT' })
  })
})

describe('failures', () => {
  it('reports a non-zero exit with the end of stderr', async () => {
    expect(await run(`echo 'partial' ; echo 'something broke' >&2; exit 3`).done)
      .toEqual({ kind: 'failed', error: 'exit code 3: something broke' })
  })

  it('reports a non-zero exit without stderr', async () => {
    expect(await run('exit 4').done).toEqual({ kind: 'failed', error: 'exit code 4' })
  })

  it('reports death by a signal', async () => {
    expect(await run(`echo dying >&2; kill -TERM $$`).done).toEqual({ kind: 'failed', error: 'killed by SIGTERM: dying', signal: 'SIGTERM' })
  })

  it('keeps only the last STDERR_TAIL_BYTES of stderr', async () => {
    const outcome = await run(`head -c 100000 /dev/zero | tr '\\0' e >&2; printf END >&2; exit 1`).done
    expect(STDERR_TAIL_BYTES).toBe(4096)
    expect(outcome).toEqual({ kind: 'failed', error: `exit code 1: ${'e'.repeat(STDERR_TAIL_BYTES - 3)}END` })
  })

  it('kills a task at its timeout', async () => {
    const started = Date.now()
    const outcome = await run(`echo 'still working' >&2; sleep 5`, { timeoutMs: 200 }).done
    expect(outcome).toEqual({ kind: 'failed', error: 'timed out after 200 ms: still working' })
    // The whole group died: a surviving `sleep 5` would hold stdout open for 5 s.
    expect(Date.now() - started).toBeLessThan(4000)
  })
})

describe('process group', () => {
  it('stop() kills the shell and everything it started', async () => {
    const pidFile = join(dir, 'bg.pid')
    const task = run(`sleep 30 & echo $! > '${pidFile}'; wait`)
    const text = await waitFor(() => readFile(pidFile, 'utf8').catch(() => ''), (t) => t.endsWith('\n'), { ...SOON, what: 'the pid file' })
    const pid = Number(text)
    expect(isRunning(pid)).toBe(true)
    task.stop()
    expect(await task.done).toEqual({ kind: 'interrupted', reason: 'stopped' })
    await waitFor(() => isRunning(pid), (running) => !running, { ...SOON, what: `process ${pid} gone` })
    expect(isRunning(pid)).toBe(false)
  })

  it('stop() after the task ended changes nothing', async () => {
    const task = run('echo 1')
    expect(await task.done).toEqual({ kind: 'complete', result: 1 })
    task.stop()
    expect(await task.done).toEqual({ kind: 'complete', result: 1 })
  })

  it('is over at the exit even when a child in its own session (setsid) holds stdout open', async () => {
    const pidFile = join(dir, 'daemon.pid')
    const started = Date.now()
    // The shell waits until the child is in its own session, then exits.
    const outcome = await run(`setsid sh -c 'echo $$ > "${pidFile}"; exec sleep 30' & while [ ! -s "${pidFile}" ]; do sleep 0.01; done; echo '"done"'`).done
    const elapsed = Date.now() - started
    const pid = Number(await readFile(pidFile, 'utf8'))
    try {
      expect(outcome).toEqual({ kind: 'complete', result: 'done' })
      // OUTPUT_GRACE_MS after the exit, far from the daemon's 30 s.
      expect(OUTPUT_GRACE_MS).toBe(1000)
      expect(elapsed).toBeLessThan(10_000)
      expect(isRunning(pid)).toBe(true) // out of the group: the executor could not have waited it out
    } finally {
      process.kill(pid, 'SIGKILL')
    }
  })

  it('ends a timed-out task whose setsid child holds stdout open', async () => {
    const pidFile = join(dir, 'daemon.pid')
    const started = Date.now()
    const outcome = await run(`setsid sh -c 'echo $$ > "${pidFile}"; exec sleep 30' & sleep 30`, { timeoutMs: 300 }).done
    const elapsed = Date.now() - started
    process.kill(Number(await readFile(pidFile, 'utf8')), 'SIGKILL')
    expect(outcome).toEqual({ kind: 'failed', error: 'timed out after 300 ms' })
    expect(elapsed).toBeLessThan(10_000)
  })

  it('kills background children when the shell exits', async () => {
    const pidFile = join(dir, 'bg.pid')
    const started = Date.now()
    expect(await run(`sleep 30 & echo $! > '${pidFile}'; echo done`).done).toEqual({ kind: 'complete', result: 'done' })
    expect(Date.now() - started).toBeLessThan(10_000)
    const pid = Number(await readFile(pidFile, 'utf8'))
    await waitFor(() => isRunning(pid), (running) => !running, { ...SOON, what: `process ${pid} gone` })
    expect(isRunning(pid)).toBe(false)
  })
})
