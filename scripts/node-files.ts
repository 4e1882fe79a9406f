/**
 * Node's file access for the hub's portable core: the shared secret file (SecretFiles) and
 * the task table (StateFiles). Used by the Node hub and the token command.
 */
import { link, mkdir, open, readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { SecretFiles } from '../hub/config.ts'
import type { StateFiles } from '../hub/task-store.ts'

async function readOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

export const nodeSecretFiles: SecretFiles = {
  read: readOrNull,
  async createExclusive(path, text) {
    // Written aside, then linked into place: a reader never sees a half-written secret.
    const tmp = `${path}.${process.pid}.tmp`
    await writeFile(tmp, text, { mode: 0o600, flush: true })
    try {
      await link(tmp, path)
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw err
    } finally {
      await unlink(tmp)
    }
  },
  async mkdirp(path) {
    await mkdir(path, { recursive: true, mode: 0o700 })
  },
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
  const dir = await open(dirname(path), 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}

export const nodeStateFiles: StateFiles = { read: readOrNull, writeAtomic: writeFileAtomic }
