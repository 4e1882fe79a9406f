/**
 * A pass run every `intervalMs`, never two at once: a tick that comes while a pass runs is
 * skipped (the pass under way covers it), and run() meanwhile answers the pass under way rather
 * than starting another. A pass that throws is handed to `onError` and the loop goes on. Used by
 * one hub's task sweep (hub/tasks/immediate-sweep.ts) and the cluster's (hub/cluster/sweep.ts).
 */
export interface IntervalLoop {
  /** Runs a pass now, or answers the one under way; resolves once it is over (never rejects). */
  run(): Promise<void>
  /** No more ticks; a pass under way finishes (it may read `stopped` to cut itself short). */
  stop(): void
  readonly stopped: boolean
}

export function startIntervalLoop(pass: () => Promise<void>, o: { intervalMs: number; onError(err: unknown): void }): IntervalLoop {
  let running: Promise<void> | null = null
  let stopped = false
  const run = (): Promise<void> => {
    running ??= pass()
      .catch((err) => o.onError(err))
      .finally(() => {
        running = null
      })
    return running
  }
  const timer = setInterval(() => {
    if (!stopped) void run()
  }, o.intervalMs)
  return {
    run,
    stop() {
      stopped = true
      clearInterval(timer)
    },
    get stopped() {
      return stopped
    },
  }
}
