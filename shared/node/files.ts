/**
 * Node file helpers shared by the Node hub (hub/node/platform.ts) and the sidecar's queue.
 * Node only: the portable core never imports this folder (hub/deno/platform.ts is its Deno twin).
 */
import { closeSync, fdatasync, openSync, writeSync } from 'node:fs'
import { open, readFile, rename } from 'node:fs/promises'
import { promisify } from 'node:util'
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

const fdatasyncAsync = promisify(fdatasync)

/**
 * Appends `text` and fsyncs its data before resolving; creates the file (0600) if missing.
 * Opened, written and closed synchronously (an append reaches the page cache in microseconds),
 * so only the fsync, which waits for the disk, leaves the main thread: the four awaited steps
 * of fs/promises cost about 2.5 times the CPU per append (measured) and were a fifth of a hub's
 * CPU under the task_throughput load, which appends the task journal and the audit trail.
 * The path is opened anew each time, so a data dir moved away fails the append, as it must.
 */
export async function appendFileSynced(path: string, text: string): Promise<void> {
  const fd = openSync(path, 'a', 0o600)
  try {
    const bytes = Buffer.from(text, 'utf8')
    for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at)
    await fdatasyncAsync(fd)
  } finally {
    closeSync(fd)
  }
}
