/** Waits for JSON log lines from a child's stdout, as they arrive (no polling). */
import type { Readable } from 'node:stream'

export type LogLine = Record<string, unknown> & { msg?: string }

export interface LineWatcher {
  /** Resolves with the first line from now on that `accept` takes; rejects after `timeoutMs`. */
  next(accept: (line: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine>
  close(): void
}

export function watchJsonLines(stream: Readable): LineWatcher {
  const waiters = new Set<(line: LogLine) => void>()
  let partial = ''
  // A plain data listener beside the stream's other readers: readline's close() would pause
  // the stream for them too, and a hub blocked on a full stdout pipe stalls every figure.
  const onData = (chunk: Buffer | string) => {
    const lines = (partial + chunk.toString()).split('\n')
    partial = lines.pop() ?? ''
    if (waiters.size === 0) return
    for (const text of lines) {
      if (!text.startsWith('{')) continue
      let line: LogLine
      try {
        line = JSON.parse(text) as LogLine
      } catch {
        continue // not one of the hub's JSON lines
      }
      for (const waiter of [...waiters]) waiter(line)
    }
  }
  stream.on('data', onData)
  return {
    next(accept, timeoutMs, what) {
      return new Promise((resolve, reject) => {
        const waiter = (line: LogLine) => {
          if (!accept(line)) return
          clearTimeout(timer)
          waiters.delete(waiter)
          resolve(line)
        }
        const timer = setTimeout(() => {
          waiters.delete(waiter)
          reject(new Error(`no ${what} within ${timeoutMs} ms`))
        }, timeoutMs)
        waiters.add(waiter)
      })
    },
    close: () => void stream.off('data', onData),
  }
}
