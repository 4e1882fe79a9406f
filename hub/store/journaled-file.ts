/**
 * A state the data dir keeps as a snapshot and a journal: the task table (hub/tasks/task-store.ts)
 * and the fleet state (fleet-state.ts). The snapshot is one JSON file written whole and atomically
 * now and then; the journal beside it (`<path>.journal`) gets what changed in between, one JSON
 * line per change, appended and fsynced, so a save costs what changed and not the whole state.
 *
 * The snapshot carries a generation and the journal's first line names the generation it follows:
 * a journal left from before a compaction (a crash between the new snapshot and the new journal)
 * is never replayed over a newer snapshot. A torn last line (a crash mid-append, before its save
 * was acknowledged) is ignored. At start, and after an append that failed (it may have torn the
 * journal), the next save writes a snapshot. A JournaledFile owns the two files, the generation
 * and the choice to compact; its user says what the records are and how one applies (JournalFormat).
 */
import type { Logger } from '../../shared/log.ts'
import type { TaskFiles } from './state-files.ts'

/** Journal bytes past which the next save writes a snapshot instead (amortised: a few times the snapshot). */
export const MIN_COMPACT_BYTES = 1024 * 1024
export const COMPACT_FACTOR = 4

export const journalPathOf = (snapshotPath: string) => `${snapshotPath}.journal`
const journalHeader = (generation: number) => `${JSON.stringify({ journal: 1, generation })}\n`

/** What a state's records are, for a load: `S` is the state the snapshot gives and the journal changes. */
export interface JournalFormat<S> {
  /**
   * The state in a snapshot (`json`, its text parsed) and the generation it carries (0 for a file
   * of before the journal), or why the file is not such a snapshot: it is then moved aside.
   */
  decode(json: unknown, text: string): Promise<{ state: S; generation: number } | { issue: string }>
  /** Applies one journal entry to `state`; false: the entry is invalid (dropped, and logged). */
  apply(state: S, entry: unknown): boolean
  /** The error line logged when the file is moved aside. */
  corrupt: string
}

export class JournaledFile {
  readonly journalPath: string
  /** The generation of the snapshot on disk (0: none yet, or a file of before the journal). */
  private generation = 0
  private snapshotBytes = 0
  /** Bytes in the journal; null until a snapshot starts one (or after an append that may have torn it). */
  private journalBytes: number | null = null

  /** `name` names the state in log lines ('task': "task journal ..."). */
  constructor(
    readonly path: string,
    private readonly files: TaskFiles,
    private readonly log: Logger,
    private readonly name: string,
    private readonly now: () => number = Date.now,
  ) {
    this.journalPath = journalPathOf(path)
  }

  /**
   * The saved state: the snapshot with the journal that follows it replayed over it, in order;
   * null when there is no snapshot, or it was not one and is moved aside (`<path>.corrupt-<ms>`),
   * so the hub always starts.
   */
  async load<S>(format: JournalFormat<S>): Promise<S | null> {
    this.journalBytes = null // the next save starts from a snapshot of what the hub restored
    const text = await this.files.read(this.path)
    if (text === null) return null
    const decoded = await decodeSnapshot(text, format)
    if ('issue' in decoded) {
      const aside = this.asidePath()
      await this.files.rename(this.path, aside)
      this.log.error(format.corrupt, { path: this.path, moved_to: aside, issue: decoded.issue, bytes: text.length })
      return null
    }
    this.generation = decoded.generation
    this.snapshotBytes = text.length
    const changes = await this.files.read(this.journalPath)
    if (changes !== null) this.replay(changes, decoded.state, format)
    return decoded.state
  }

  /** A new name beside the snapshot for a copy of it set aside for the operator. */
  asidePath(): string {
    return `${this.path}.corrupt-${this.now()}`
  }

  /**
   * Stores what changed since the last save that resolved: `changes()`, whole journal lines,
   * appended; or, when the journal is in doubt or past a few times the snapshot's size, the
   * whole state from `snapshot` instead (which gets the generation it must carry).
   */
  async save(changes: () => string, snapshot: (generation: number) => string): Promise<void> {
    if (this.journalBytes === null || shouldCompact(this.journalBytes, this.snapshotBytes)) return this.writeSnapshot(snapshot)
    const text = changes()
    if (text === '') return
    const before = this.journalBytes
    this.journalBytes = null // in doubt until the append is whole on disk: a failed one may have torn it
    await this.files.append(this.journalPath, text)
    this.journalBytes = before + text.length
  }

  /** Writes the whole state (`encode` gets the generation it must carry) and starts its journal. */
  async writeSnapshot(encode: (generation: number) => string): Promise<void> {
    const text = encode(this.generation + 1)
    await this.files.writeAtomic(this.path, text)
    this.generation++
    this.snapshotBytes = text.length
    this.journalBytes = null
    // A journal of the generation before is never replayed over this snapshot, so a crash
    // here loses nothing; the next save starts the new one.
    const header = journalHeader(this.generation)
    await this.files.writeAtomic(this.journalPath, header)
    this.journalBytes = header.length
  }

  /** Applies the journal `text` to `state` when it follows the snapshot loaded. */
  private replay<S>(text: string, state: S, format: JournalFormat<S>): void {
    const lines = text.split('\n')
    const header = parseLine(lines[0])
    if (!isRecord(header) || header.journal !== 1 || header.generation !== this.generation) {
      if (text.length > 0) this.log.warn(`${this.name} journal does not follow the snapshot; not replayed`, { generation: this.generation })
      return
    }
    for (let i = 1; i < lines.length; i++) {
      if (lines[i] === '') continue
      const entry = parseLine(lines[i])
      if (entry === undefined) {
        // The last line may be torn by a crash mid-append: that save was never acknowledged.
        if (i !== lines.length - 1) this.log.error(`${this.name} journal line is not JSON; the rest is not replayed`, { line: i + 1 })
        break
      }
      if (!format.apply(state, entry)) this.log.error(`${this.name} journal entry is invalid; dropped`, { line: i + 1 })
    }
  }
}

/** Whether the journal has grown past what a snapshot would cost a few times over. */
export function shouldCompact(journalBytes: number, snapshotBytes: number): boolean {
  return journalBytes > Math.max(MIN_COMPACT_BYTES, COMPACT_FACTOR * snapshotBytes)
}

/** A validation issue (valibot's) as a log line's `issue`: where it is (`whole`: the whole thing) and what. */
export function describeIssue(issue: { path?: readonly { key: unknown }[]; message: string }, whole: string): string {
  const where = issue.path?.map((p) => String(p.key)).join('.') ?? whole
  return `${where}: ${issue.message}`.slice(0, 200)
}

export const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)

function decodeSnapshot<S>(text: string, format: JournalFormat<S>): Promise<{ state: S; generation: number } | { issue: string }> {
  const json = parseLine(text)
  return json === undefined ? Promise.resolve({ issue: 'not JSON' }) : format.decode(json, text)
}

/** A line's JSON; a torn or foreign line is `undefined`, never an exception. */
function parseLine(line: string | undefined): unknown {
  if (line === undefined) return undefined
  try {
    return JSON.parse(line)
  } catch {
    return undefined
  }
}
