/**
 * Durable appends for the hub's journals (the task table's, the audit trail), over a runtime's
 * file calls (hub/node/append-file-calls.ts, hub/deno/append-file-calls.ts). Each file is kept open,
 * so an append is a write and its sync, not also an open and a close (each of those a trip to
 * the runtime's thread pool; about a fifth of a hub's main thread under the task_throughput load).
 *
 * The path still decides where an append goes, as when it was opened anew each time: before
 * each append the path is looked up and the open file is used only while the path names that
 * same file. A data dir moved away or replaced fails the append (the open fails); a file
 * replaced by a rename (a compaction) is opened anew. Appends to one path go one after the
 * other, in the order they were asked for.
 */

/** What tells one file from another put in its place: device and inode (null: unknown, never reused). */
export interface FileIdentity {
  dev: number
  ino: number | null
}

/** The runtime's part: `F` is its open file (a descriptor, a Deno.FsFile). */
export interface AppendFileCalls<F> {
  /** Opens `path` to append to, creating it owner-only (0600), and says which file it opened. */
  open(path: string): Promise<{ file: F; id: FileIdentity }>
  /**
   * Which file `path` names now, or null if none (missing, or a directory on the way is not
   * one). Synchronous: metadata the kernel holds for a file just written, cheaper than a trip
   * to the pool; the calls that wait for the disk stay off the main thread.
   */
  idAt(path: string): FileIdentity | null
  /** Writes all of `bytes` at the end of `file` and resolves once they are on disk. */
  writeSynced(file: F, bytes: Uint8Array): Promise<void>
  /** Closes `file`; errors are of no interest (a failed file is dropped and opened anew). */
  close(file: F): void
}

/** Files kept open at most: a hub appends to two or three; past this the least recently used idle one is closed. */
const MAX_OPEN = 8

/** Appends `text` to `path` and resolves once it is on disk; creates the file (0600) if missing. */
export type AppendSynced = (path: string, text: string) => Promise<void>

export function createSyncedAppends<F>(calls: AppendFileCalls<F>): AppendSynced {
  /** Open files by path, least recently used first. */
  const files = new Map<string, { file: F; id: FileIdentity }>()
  /** Each path's last append, settled or not: appends to one path go one after the other. */
  const queues = new Map<string, Promise<void>>()
  const encoder = new TextEncoder()
  const noop = () => {}

  async function appendNow(path: string, bytes: Uint8Array): Promise<void> {
    let open = files.get(path)
    if (open && !stillAt(path, open.id)) {
      drop(path)
      open = undefined
    }
    // Opened here when the path names another file now, or none: the open fails as it should.
    open ??= await openAt(path)
    files.delete(path)
    files.set(path, open)
    try {
      await calls.writeSynced(open.file, bytes)
    } catch (err) {
      // Maybe half written: the next append starts from a fresh open.
      drop(path)
      throw err
    }
  }

  function stillAt(path: string, id: FileIdentity): boolean {
    const now = calls.idAt(path)
    return now !== null && id.ino !== null && now.ino === id.ino && now.dev === id.dev
  }

  async function openAt(path: string): Promise<{ file: F; id: FileIdentity }> {
    const open = await calls.open(path)
    files.set(path, open)
    if (files.size > MAX_OPEN) closeIdle()
    return open
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
    calls.close(open.file)
  }

  return (path, text) => {
    const bytes = encoder.encode(text)
    const before = queues.get(path)
    const done = before ? before.then(() => appendNow(path, bytes)) : appendNow(path, bytes)
    const settled = done.then(noop, noop)
    queues.set(path, settled)
    void settled.then(() => {
      if (queues.get(path) === settled) queues.delete(path)
    })
    return done
  }
}
