/**
 * Node file helpers shared by the Node hub (hub/node/platform.ts) and the sidecar's queue.
 * Node only: the portable core never imports this folder (hub/deno/platform.ts is its Deno twin).
 */
import { close as fsClose, fdatasync, open as fsOpen, write as fsWrite } from 'node:fs'
import { open, readFile, rename } from 'node:fs/promises'
import { dirname } from 'node:path'

/** The file's text, or null when it does not exist. */
export async function readTextOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

/** Temporary file, fsync, rename, fsync of the directory: a reader sees the old file or the new. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`
  const handle = await open(tmp, 'w', 0o600)
  try {
    await handle.writeFile(text)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(tmp, path)
  // The rename itself is durable only once the directory is.
  const dir = await open(dirname(path), 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}

/**
 * Appends `text` and fsyncs its data before resolving; creates the file (0600) if missing.
 * Open, write, fsync and close with fs callbacks, all four off the main thread: through
 * fs/promises each step cost the main thread more than the step itself (about a quarter of a
 * hub's profile under the task_throughput load, which appends the task journal and the audit
 * trail), and synchronous calls would stall the event loop whenever the disk does. The path is
 * opened anew each time, so a data dir moved away fails the append, as it must.
 */
export function appendFileSynced(path: string, text: string): Promise<void> {
  const bytes = Buffer.from(text, 'utf8')
  return new Promise((resolve, reject) => {
    fsOpen(path, 'a', 0o600, (openErr, fd) => {
      if (openErr) return reject(openErr)
      const finish = (err: Error | null) => fsClose(fd, (closeErr) => {
        const failed = err ?? closeErr
        if (failed) reject(failed)
        else resolve()
      })
      const writeFrom = (at: number): void => {
        if (at === bytes.length) return fdatasync(fd, finish)
        fsWrite(fd, bytes, at, bytes.length - at, null, (err, written) => (err ? finish(err) : writeFrom(at + written)))
      }
      writeFrom(0)
    })
  })
}
