/**
 * Node file helpers shared by the Node hub (hub/node/platform.ts) and the sidecar's queue.
 * Node only: the portable core never imports this folder (hub/deno/platform.ts is its Deno twin).
 */
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

