/**
 * Cleanups that must run even when the bench is interrupted: a pm2 daemon is detached from
 * the bench's process group, so Ctrl-C alone would leave it running in its temporary home.
 */
const pending = new Set<() => Promise<void>>()

/** Registers `fn` until the returned function is called (in a finally, once done). */
export function onInterrupt(fn: () => Promise<void>): () => void {
  pending.add(fn)
  return () => void pending.delete(fn)
}

export function installInterruptHandlers(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, cleaning up\n`)
      void Promise.allSettled([...pending].map((fn) => fn())).then(() => process.exit(130))
    })
  }
}
