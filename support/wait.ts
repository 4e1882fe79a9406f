/**
 * The one way the tests (and the scripts and bench that share this support) wait for a
 * condition that sends no event: poll it, bounded, and say what was awaited and what was last
 * seen on timeout. An event that can be awaited (a frame, `TestSocket.next`) is awaited instead.
 *
 * The timers are the real ones, taken when this module loads: a test that fakes setTimeout or
 * Date for the code under test still waits in real time here (it advances its fake clock itself).
 */
const realSetTimeout = globalThis.setTimeout
const realNow = Date.now

export interface WaitOptions {
  /** Default 20 s. */
  timeoutMs?: number
  /** Between probes; default 50 ms. */
  intervalMs?: number
  /** Named in the timeout's error. */
  what?: string
}

const pause = (ms: number) => new Promise<void>((resolve) => realSetTimeout(resolve, ms))

/**
 * Probes until `accept` holds for what `probe` gives, and resolves with that value. Throws on
 * timeout with the last value; a probe that throws ends the wait with its error.
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  accept: (value: T) => boolean,
  { timeoutMs = 20_000, intervalMs = 50, what = 'condition' }: WaitOptions = {},
): Promise<T> {
  const deadline = realNow() + timeoutMs
  for (;;) {
    const last = await probe()
    if (accept(last)) return last
    if (realNow() > deadline) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`)
    await pause(intervalMs)
  }
}

/**
 * Waits until `check` stops throwing: for a condition written as assertions (`expect(...)`).
 * On timeout, throws the assertion's own last error, so the failure reads as the `expect` does.
 */
export async function waitUntil(check: () => void | Promise<void>, options: WaitOptions = {}): Promise<void> {
  let lastError: unknown = null
  try {
    await waitFor(async () => {
      try {
        await check()
        return true
      } catch (error) {
        lastError = error
        return false
      }
    }, Boolean, options)
  } catch (timedOut) {
    throw lastError ?? timedOut
  }
}
