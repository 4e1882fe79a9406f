/**
 * The sidecar's view of itself in pm2. Every pm2 call goes through a CommandRunner.
 * Outside pm2 it never runs `pm2` at all: `pm2 jlist` would spawn a stray daemon.
 * Failures (non-zero exit, timeout, missing binary, garbage) give null and a warning,
 * never a throw.
 */
import type { Pm2Info } from '../shared/protocol.ts'
import { coerceError, type Logger } from '../shared/log.ts'
import type { Clock } from '../shared/time.ts'
import { SECOND } from '../shared/time.ts'
import type { CommandRunner, RunResult } from './exec-runner.ts'
import { parseJlist, toPm2Info, type JlistEntry } from './jlist.ts'

export interface Pm2AdapterDeps {
  runner: CommandRunner
  /** The process environment: pm2 sets `pm_id` and `name` for every process it manages. */
  env: Record<string, string | undefined>
  /** This process's pid, to find itself in the list when pm_id is not set. */
  pid: number
  log: Logger
  clock: Clock
  /** How to run pm2: the file and leading args, e.g. [node, .../pm2/bin/pm2]. */
  pm2Command: readonly [string, ...string[]]
  /** Default 5 s. */
  timeoutMs?: number
}

export interface Pm2Adapter {
  /** True when pm2 manages this process (it set `pm_id`); only then does it come back after exit. */
  readonly supervised: boolean
  getProcessName(): Promise<string | null>
  getStatus(): Promise<string | null>
  getInfo(): Promise<Pm2Info | null>
  /**
   * What pm2 put in this process's environment when it started it, without running pm2:
   * null outside pm2 or when a field is missing. `memory_bytes` is null (pm2 has not measured
   * the process yet); getInfo() has pm2's full answer.
   */
  infoFromEnv(): Pm2Info | null
}

export function createPm2Adapter(deps: Pm2AdapterDeps): Pm2Adapter {
  const pmIdRaw = deps.env.pm_id
  const supervised = pmIdRaw !== undefined && pmIdRaw !== ''
  const pmId = supervised ? Number(pmIdRaw) : null
  const [file, ...lead] = deps.pm2Command
  let inFlight: Promise<JlistEntry | null> | null = null

  /** One `pm2 jlist` at a time: concurrent callers share the run in flight. */
  function findSelf(): Promise<JlistEntry | null> {
    if (!supervised) return Promise.resolve(null)
    inFlight ??= queryJlist().finally(() => {
      inFlight = null
    })
    return inFlight
  }

  async function queryJlist(): Promise<JlistEntry | null> {
    let res: RunResult
    try {
      res = await deps.runner.run(file, [...lead, 'jlist', '-s'], {
        timeoutMs: deps.timeoutMs ?? 5 * SECOND,
        env: { PM2_SILENT: 'true' },
      })
    } catch (err) {
      // execFile throws (so the runner rejects) on spawn errors such as E2BIG or ENOMEM.
      deps.log.warn('pm2 jlist could not run', { error: coerceError(err).message })
      return null
    }
    if (res.exitCode !== 0) {
      deps.log.warn('pm2 jlist failed', { exit_code: res.exitCode, error: res.error ?? null, stderr: res.stderr.slice(-200) })
      return null
    }
    const list = parseJlist(res.stdout)
    if (!list) {
      deps.log.warn('pm2 jlist printed no JSON list', { bytes: res.stdout.length })
      return null
    }
    const self =
      list.find((p) => p.pm_id === pmId) ??
      list.find((p) => p.pid === deps.pid) ??
      null
    if (!self) deps.log.warn('this process is not in pm2 jlist', { pm_id: pmId, processes: list.length })
    return self
  }

  return {
    supervised,
    async getProcessName() {
      const fromEnv = deps.env.PM2_PROCESS_NAME || (supervised ? deps.env.name : undefined)
      if (fromEnv) return fromEnv
      return (await findSelf())?.name ?? null
    },
    async getStatus() {
      return (await findSelf())?.status ?? null
    },
    async getInfo() {
      const self = await findSelf()
      return self ? toPm2Info(self, deps.clock.now()) : null
    },
    infoFromEnv() {
      const name = deps.env.name
      const restarts = envNumber(deps.env.restart_time)
      const startedAt = envNumber(deps.env.pm_uptime)
      if (pmId === null || !Number.isInteger(pmId) || !name || restarts === null || startedAt === null) return null
      return {
        name, pm_id: pmId, pid: deps.pid,
        // pm2 writes `status: launching` into the environment before the spawn and marks the
        // process online once it runs: a process reading this is running, so it is online.
        status: 'online',
        uptime_ms: Math.max(0, deps.clock.now() - startedAt),
        restart_count: restarts,
        memory_bytes: null,
      }
    },
  }
}

/** A whole decimal number from pm2's environment, or null. */
function envNumber(raw: string | undefined): number | null {
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : null
}
