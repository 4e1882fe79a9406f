/**
 * Polls a hub's `/health` until it answers 200, for the start commands: true once it does,
 * false when `timeoutMs` passes or `stillStarting()` turns false (the starter exited).
 */
export async function waitForHealth(base: string, timeoutMs: number, stillStarting: () => boolean): Promise<boolean> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until && stillStarting()) {
    try {
      const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(1000) })
      if (res.ok) return true
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  return false
}
