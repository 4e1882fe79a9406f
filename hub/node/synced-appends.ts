/**
 * Durable appends on Node for the hub's journals (the task table's, the audit trail): each
 * file is kept open with O_DSYNC, so one write is the append and its fdatasync, one trip to
 * the thread pool instead of open, write, fdatasync and close (four trips, each one woke a
 * pool thread and came back through the event loop; about a fifth of a hub's main thread
 * under the task_throughput load).
 *
 * The path still decides where an append goes, as when it was opened anew each time: before
 * each append the path is looked up (stat) and the open file is used only while the path
 * names that same file. A data dir moved away or replaced fails the append (the open fails);
 * a file replaced by a rename (a compaction) is opened anew. That lookup is synchronous: it
 * reads metadata the kernel holds for a file just written (about 2 µs), and measured cheaper
 * than a trip to the pool; the calls that wait for the disk stay off the main thread.
 */
import { close, constants, fstat, open, statSync, write, type Stats } from 'node:fs'

const FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_DSYNC

/** Files kept open at most: a hub appends to two or three; past this the least recently used idle one is closed. */
const MAX_OPEN = 8

interface OpenFile {
  fd: number
  dev: number
  ino: number
}

/** Open files by path, least recently used first. */
const files = new Map<string, OpenFile>()
/** Each path's last append, settled or not: appends to one path go one after the other. */
const queues = new Map<string, Promise<void>>()
const noop = () => {}

/** Appends `text` and resolves once it is on disk; creates the file (0600) if missing. */
export function appendSynced(path: string, text: string): Promise<void> {
  const bytes = Buffer.from(text, 'utf8')
  const before = queues.get(path)
  const done = before ? before.then(() => appendNow(path, bytes)) : appendNow(path, bytes)
  const settled = done.then(noop, noop)
  queues.set(path, settled)
  void settled.then(() => {
    if (queues.get(path) === settled) queues.delete(path)
  })
  return done
}

async function appendNow(path: string, bytes: Buffer): Promise<void> {
  let file = files.get(path)
  if (file && !stillAt(path, file)) {
    drop(path)
    file = undefined
  }
  // Opened here when the path names another file now, or none: the open fails as it should.
  file ??= await openAt(path)
  files.delete(path)
  files.set(path, file)
  try {
    // O_DSYNC: each write returns once its data (and the file's new size) is on disk.
    for (let at = 0; at < bytes.length;) {
      at += await call<number>((cb) => write(file.fd, bytes, at, bytes.length - at, null, cb))
    }
  } catch (err) {
    // Maybe half written: the next append starts from a fresh open.
    drop(path)
    throw err
  }
}

/** Whether `path` still names the file open as `file` (a missing path or directory: no). */
function stillAt(path: string, file: OpenFile): boolean {
  try {
    const now = statSync(path)
    return now.ino === file.ino && now.dev === file.dev
  } catch {
    return false
  }
}

async function openAt(path: string): Promise<OpenFile> {
  const fd = await call<number>((cb) => open(path, FLAGS, 0o600, cb))
  try {
    const st = await call<Stats>((cb) => fstat(fd, cb))
    const file = { fd, dev: st.dev, ino: st.ino }
    files.set(path, file)
    if (files.size > MAX_OPEN) closeIdle()
    return file
  } catch (err) {
    close(fd, noop)
    throw err
  }
}

/** Closes the least recently used file no append is using. */
function closeIdle(): void {
  for (const path of files.keys()) {
    if (queues.has(path)) continue
    drop(path)
    return
  }
}

/** Closes the path's file (only ever while no append to that path runs). */
function drop(path: string): void {
  const file = files.get(path)
  if (!file) return
  files.delete(path)
  close(file.fd, noop)
}

function call<T>(start: (cb: (err: Error | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value))))
}
