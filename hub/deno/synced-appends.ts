/**
 * Durable appends on Deno for the hub's journals, as hub/node/synced-appends.ts does on Node:
 * each file is kept open, so an append is a write and a syncData, not also an open and a close.
 * Deno cannot open with O_DSYNC, hence the syncData. The path still decides where an append
 * goes: the open file is used only while the path names that same file (a synchronous stat,
 * metadata the kernel holds), so a data dir moved away or replaced fails the append and a file
 * replaced by a rename (a compaction) is opened anew.
 */

/** Files kept open at most: a hub appends to two or three; past this the least recently used idle one is closed. */
const MAX_OPEN = 8

interface OpenFile {
  file: Deno.FsFile
  dev: number
  ino: number | null
}

/** Open files by path, least recently used first. */
const files = new Map<string, OpenFile>()
/** Each path's last append, settled or not: appends to one path go one after the other. */
const queues = new Map<string, Promise<void>>()
const noop = () => {}

/** Appends `text` and resolves once it is on disk; creates the file (0600) if missing. */
export function appendSynced(path: string, text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text)
  const before = queues.get(path)
  const done = before ? before.then(() => appendNow(path, bytes)) : appendNow(path, bytes)
  const settled = done.then(noop, noop)
  queues.set(path, settled)
  void settled.then(() => {
    if (queues.get(path) === settled) queues.delete(path)
  })
  return done
}

async function appendNow(path: string, bytes: Uint8Array): Promise<void> {
  let open = files.get(path)
  if (open && !stillAt(path, open)) {
    drop(path)
    open = undefined
  }
  // Opened here when the path names another file now, or none: the open fails as it should.
  open ??= await openAt(path)
  files.delete(path)
  files.set(path, open)
  try {
    for (let at = 0; at < bytes.length;) at += await open.file.write(bytes.subarray(at))
    await open.file.syncData()
  } catch (err) {
    // Maybe half written: the next append starts from a fresh open.
    drop(path)
    throw err
  }
}

/** Whether `path` still names the file open as `open` (a missing path or directory: no). */
function stillAt(path: string, open: OpenFile): boolean {
  try {
    const now = Deno.statSync(path)
    return open.ino !== null && now.ino === open.ino && now.dev === open.dev
  } catch {
    return false
  }
}

async function openAt(path: string): Promise<OpenFile> {
  const file = await Deno.open(path, { append: true, create: true, mode: 0o600 })
  try {
    const info = await file.stat()
    const open = { file, dev: info.dev, ino: info.ino }
    files.set(path, open)
    if (files.size > MAX_OPEN) closeIdle()
    return open
  } catch (err) {
    file.close()
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
  const open = files.get(path)
  if (!open) return
  files.delete(path)
  try {
    open.file.close()
  } catch {
    // Already closed: nothing to release.
  }
}
