/**
 * Node's file calls for the hub's durable appends (hub/store/synced-appends.ts keeps the files
 * open, one path's appends in order, and the path deciding where each goes). Opened with
 * O_DSYNC, so one write is the append and its fdatasync: one trip to the thread pool.
 */
import { close, constants, fstat, open, statSync, write, type Stats } from 'node:fs'
import { createSyncedAppends, type AppendFileCalls } from '../store/synced-appends.ts'

const FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_DSYNC
const noop = () => {}

const calls: AppendFileCalls<number> = {
  async open(path) {
    const fd = await call<number>((cb) => open(path, FLAGS, 0o600, cb))
    try {
      const st = await call<Stats>((cb) => fstat(fd, cb))
      return { file: fd, id: { dev: st.dev, ino: st.ino } }
    } catch (err) {
      close(fd, noop)
      throw err
    }
  },
  idAt(path) {
    try {
      const st = statSync(path)
      return { dev: st.dev, ino: st.ino }
    } catch {
      // Missing, or a directory on the way is not one.
      return null
    }
  },
  async writeSynced(fd, bytes) {
    // O_DSYNC: each write returns once its data (and the file's new size) is on disk.
    for (let at = 0; at < bytes.length;) {
      at += await call<number>((cb) => write(fd, bytes, at, bytes.length - at, null, cb))
    }
  },
  close: (fd) => close(fd, noop),
}

/** Appends `text` and resolves once it is on disk; creates the file (0600) if missing. */
export const appendSynced = createSyncedAppends(calls)

function call<T>(start: (cb: (err: Error | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value))))
}
