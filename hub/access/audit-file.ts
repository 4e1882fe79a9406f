/**
 * The audit trail of one hub: a JSON-lines file in the data dir, appended to and fsync'd before
 * an append resolves. Appends that arrive while one is being written go out together in the
 * next write (one fsync for all of them). The newest records are also kept in memory as their
 * lines (parsed only when listed); past `keep * 1.5` records the file is rewritten with the
 * newest `keep` (atomically: a crash leaves the old file or the new one).
 */
import { AUDIT_KEEP, matchesFilter, type AuditEntry, type AuditFilter, type AuditPage, type AuditRecord, type AuditStore } from './audit-store.ts'
import type { Logger } from '../../shared/log.ts'

/** The file in the data dir. */
export const AUDIT_FILE = 'hub-audit.jsonl'

/** Runtime file access the store needs (hub/node/audit-files.ts, hub/deno/audit-files.ts). */
export interface AuditFiles {
  read(path: string): Promise<string | null>
  /** Appends `text` and resolves once it is on disk (fsync). */
  append(path: string, text: string): Promise<void>
  /** Replaces the file's content atomically and durably. */
  writeAtomic(path: string, text: string): Promise<void>
}

export interface FileAuditOptions {
  /** Records kept at least; default AUDIT_KEEP (100 000). */
  keep?: number
  log: Logger
}

interface Line {
  seq: number
  text: string
}

/** Opens the store on `path`, reading what an earlier hub appended (a torn last line is skipped). */
export async function openFileAuditStore(path: string, files: AuditFiles, opts: FileAuditOptions): Promise<AuditStore> {
  const text = (await files.read(path)) ?? ''
  const lines: Line[] = []
  let skipped = 0
  for (const raw of text.split('\n')) {
    if (raw === '') continue
    const seq = seqOf(raw)
    if (seq === null) skipped++
    else lines.push({ seq, text: raw })
  }
  // A hub killed in the middle of an append leaves a torn last line; anything else is damage.
  if (skipped > 0) opts.log.warn('audit file: unreadable lines skipped', { lines: skipped })
  const store = new FileAuditStore(path, files, opts, lines)
  if (text !== '' && !text.endsWith('\n')) store.startOnNewLine()
  return store
}

/** The store over memory: what createHub uses when it is given none (tests, embedders). */
export function createMemoryAuditStore(opts: FileAuditOptions): AuditStore {
  let content = ''
  const files: AuditFiles = {
    read: async () => content,
    append: async (_path, text) => {
      content += text
    },
    writeAtomic: async (_path, text) => {
      content = text
    },
  }
  return new FileAuditStore('memory', files, opts, [])
}

class FileAuditStore implements AuditStore {
  readonly #keep: number
  #nextSeq: number
  /** Lines waiting for the next write, with whom to tell. */
  #queued: { line: Line; done: (err?: unknown) => void }[] = []
  #writing = false
  /** A write failed, maybe half done: the next one starts on a fresh line. */
  #torn = false

  constructor(
    private readonly path: string,
    private readonly files: AuditFiles,
    private readonly opts: FileAuditOptions,
    private lines: Line[],
  ) {
    this.#keep = opts.keep ?? AUDIT_KEEP
    this.#nextSeq = (lines.at(-1)?.seq ?? 0) + 1
  }

  /** The file ends in a torn line: the next write begins with a line break. */
  startOnNewLine(): void {
    this.#torn = true
  }

  append(entry: AuditEntry): Promise<AuditRecord> {
    const record: AuditRecord = { audit_id: String(this.#nextSeq++), ...entry }
    const line = { seq: Number(record.audit_id), text: JSON.stringify(record) }
    return new Promise((resolve, reject) => {
      this.#queued.push({ line, done: (err) => (err === undefined ? resolve(record) : reject(err)) })
      if (!this.#writing) void this.#write()
    })
  }

  async list(filter: AuditFilter, cursor: string | null, limit: number): Promise<AuditPage> {
    const before = cursor === null ? Infinity : Number(cursor)
    const records: AuditRecord[] = []
    for (let i = this.lines.length - 1; i >= 0 && records.length <= limit; i--) {
      const line = this.lines[i]
      if (line.seq >= before) continue
      const record = JSON.parse(line.text) as AuditRecord
      if (matchesFilter(record, filter)) records.push(record)
    }
    const more = records.length > limit
    if (more) records.length = limit
    return { records, next_cursor: more ? records[limit - 1].audit_id : null }
  }

  async #write(): Promise<void> {
    this.#writing = true
    while (this.#queued.length > 0) {
      const batch = this.#queued
      this.#queued = []
      try {
        const text = batch.map((b) => `${b.line.text}\n`).join('')
        await this.files.append(this.path, this.#torn ? `\n${text}` : text)
        this.#torn = false
        for (const b of batch) this.lines.push(b.line)
        for (const b of batch) b.done()
      } catch (err) {
        this.#torn = true
        for (const b of batch) b.done(err)
        continue
      }
      if (this.lines.length > this.#keep * 1.5) await this.#compact()
    }
    this.#writing = false
  }

  /** Rewrites the file with the newest `keep` records; on failure the longer file stays. */
  async #compact(): Promise<void> {
    const kept = this.lines.slice(-this.#keep)
    try {
      await this.files.writeAtomic(this.path, kept.map((l) => `${l.text}\n`).join(''))
      this.lines = kept
    } catch (err) {
      this.opts.log.error('audit file: compaction failed', { error: String(err) })
    }
  }
}

/** The seq of a stored line (its audit_id), or null for a line that is not a whole record. */
function seqOf(raw: string): number | null {
  try {
    const parsed = JSON.parse(raw) as { audit_id?: unknown }
    const seq = Number(parsed.audit_id)
    return typeof parsed.audit_id === 'string' && Number.isSafeInteger(seq) && seq > 0 ? seq : null
  } catch {
    return null
  }
}
