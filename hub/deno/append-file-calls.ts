/**
 * Deno's file calls for the hub's durable appends (hub/store/synced-appends.ts keeps the files
 * open, one path's appends in order, and the path deciding where each goes). Deno cannot open
 * with O_DSYNC, hence a syncData after each write.
 */
import { createSyncedAppends, type AppendFileCalls } from '../store/synced-appends.ts'

const calls: AppendFileCalls<Deno.FsFile> = {
  async open(path) {
    const file = await Deno.open(path, { append: true, create: true, mode: 0o600 })
    try {
      const info = await file.stat()
      return { file, id: { dev: info.dev, ino: info.ino } }
    } catch (err) {
      file.close()
      throw err
    }
  },
  idAt(path) {
    try {
      const info = Deno.statSync(path)
      return { dev: info.dev, ino: info.ino }
    } catch {
      // Missing, or a directory on the way is not one.
      return null
    }
  },
  async writeSynced(file, bytes) {
    for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at))
    await file.syncData()
  },
  close(file) {
    try {
      file.close()
    } catch {
      // Already closed: nothing to release.
    }
  },
}

/** Appends `text` and resolves once it is on disk; creates the file (0600) if missing. */
export const appendSynced = createSyncedAppends(calls)
