/**
 * The runtime file access the data dir's state files need; each runtime entry supplies it
 * (hub/node/platform.ts, hub/deno/platform.ts).
 */

/** Reading a state file and replacing it whole. */
export interface StateFiles {
  read(path: string): Promise<string | null>
  /** Temporary file, fsync, rename: a reader sees the old file or the new, never half. */
  writeAtomic(path: string, text: string): Promise<void>
}

/**
 * What a snapshot with a journal needs on top (journaled-file.ts; named for its first user, the
 * task table): a corrupt file is moved aside; the journal is appended to.
 */
export interface TaskFiles extends StateFiles {
  rename(from: string, to: string): Promise<void>
  /** Appends `text` and fsyncs before resolving (creating the file if missing). */
  append(path: string, text: string): Promise<void>
}
