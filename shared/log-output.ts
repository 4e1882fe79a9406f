/**
 * The hub's log lines on stdout, written in batches, on Node and on Deno. Both write stdout to a
 * pipe (pm2's, or a supervisor's) synchronously, and each write wakes the reader: in an identify
 * storm one write per event-loop turn was about one write per identify (a turn handles about one
 * socket then). So a line goes out at the next turn when the stdout has been quiet for
 * LOG_BATCH_MS, else with the others of that window at its end; at LOG_BATCH_BYTES pending it
 * goes out at once. Whole lines only, in order; `flush` writes what is pending (on exit).
 */

/** At most one write per this many ms while lines keep coming. */
export const LOG_BATCH_MS = 20
/** Pending past this many characters are written at once, whatever the window. */
export const LOG_BATCH_BYTES = 256 * 1024

export interface LogOutput {
  /** One log line (without its newline). */
  line(text: string): void
  /** Writes every pending line now. */
  flush(): void
}

export function createLogOutput(write: (text: string) => void, now: () => number = () => performance.now()): LogOutput {
  let lines: string[] = []
  let chars = 0
  let lastWriteAt = Number.NEGATIVE_INFINITY
  let immediate: unknown = null
  let timer: ReturnType<typeof setTimeout> | null = null

  function flush(): void {
    if (immediate !== null) cancelSoon(immediate)
    if (timer) clearTimeout(timer)
    immediate = timer = null
    if (lines.length === 0) return
    const out = `${lines.join('\n')}\n`
    lines = []
    chars = 0
    lastWriteAt = now()
    write(out)
  }

  return {
    line(text: string): void {
      lines.push(text)
      chars += text.length + 1
      if (chars >= LOG_BATCH_BYTES) return flush()
      if (immediate !== null || timer) return
      const wait = lastWriteAt + LOG_BATCH_MS - now()
      if (wait <= 0) immediate = soon(flush)
      else {
        timer = setTimeout(flush, Math.ceil(wait))
        // Unref'd on Node: a hub about to exit writes what is pending in its exit handler.
        ;(timer as { unref?: () => void }).unref?.()
      }
    },
    flush,
  }
}

/** setImmediate where the runtime has one (Node and Deno do; a Web API core does not know it), else a 0 ms timer. */
interface Immediates {
  setImmediate?: (fn: () => void) => unknown
  clearImmediate?: (handle: unknown) => void
}

function soon(fn: () => void): unknown {
  const { setImmediate } = globalThis as Immediates
  return setImmediate ? setImmediate(fn) : setTimeout(fn, 0)
}

function cancelSoon(handle: unknown): void {
  const { clearImmediate } = globalThis as Immediates
  if (clearImmediate) clearImmediate(handle)
  else clearTimeout(handle as ReturnType<typeof setTimeout>)
}
