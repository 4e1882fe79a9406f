/** Node's implementation of the hub's SecretFiles, shared by the Node hub and the token command. */
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises'
import type { SecretFiles } from '../hub/config.ts'

export const nodeSecretFiles: SecretFiles = {
  async read(path) {
    try {
      return await readFile(path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
  },
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
