/**
 * Node's platform for the hub's portable core: the shared secret file (SecretFiles), the task
 * table (StateFiles) and the tokens' MAC. Used by the Node hub entry and the token command.
 */
import { createHmac, createSecretKey } from 'node:crypto'
import { link, mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises'
import type { SecretFiles } from '../auth/secret.ts'
import type { TaskFiles } from '../tasks/task-store.ts'
import type { TokenMac } from '../auth/auth.ts'
import { readTextOrNull, writeFileAtomic } from '../../shared/node/files.ts'
import { appendSynced } from './append-file-calls.ts'

export const nodeSecretFiles: SecretFiles = {
  read: readTextOrNull,
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
  async mode(path) {
    return (await stat(path)).mode & 0o7777
  },
}

export const nodeStateFiles: TaskFiles = { read: readTextOrNull, writeAtomic: writeFileAtomic, rename, append: appendSynced }

/** HMAC-SHA256 under the secret, synchronous: on Node about half WebCrypto's CPU per token (auth.ts). */
export function nodeTokenMac(secret: string): TokenMac {
  const key = createSecretKey(Buffer.from(secret, 'utf8'))
  return (signingInput) => createHmac('sha256', key).update(signingInput).digest()
}
