/**
 * The fleet state's journal (beside hub-fleet.json, as the task table's is beside its file,
 * hub/tasks/task-journal.ts): what changed since the last snapshot, one JSON line per agent,
 * rollout or watched agent changed or forgotten (healing's history and paused flag, and the
 * list of agents alerted offline, a line each time they change, whole: both are bounded),
 * appended and fsynced, so a save costs what changed and not the whole fleet. The snapshot
 * carries a generation and the journal's first line names the generation it follows: a journal
 * left from before a compaction (a crash between the new snapshot and the new journal) is never
 * replayed over a newer snapshot. A torn last line (a crash mid-append, before its save was
 * acknowledged) is ignored.
 */
import type { Logger } from '../../shared/log.ts'
import { isRecord, parseJournalLine as parseLine } from './journal-lines.ts'

export const fleetJournalPath = (snapshotPath: string) => `${snapshotPath}.journal`
export const fleetJournalHeader = (generation: number) => `${JSON.stringify({ journal: 1, generation })}\n`

/** The kinds of keyed entries a line sets (`{"agent":{...}}`) or forgets (`{"agent_gone":"id"}`). */
export type KeyedSection = 'agent' | 'rollout' | 'watch'

/** A line that sets one entry; `json` is the entry's JSON, already made. */
export const setLine = (section: KeyedSection, json: string) => `{"${section}":${json}}\n`
export const goneLine = (section: KeyedSection, id: string) => `{"${section}_gone":${JSON.stringify(id)}}\n`
/** A line that replaces healing's history and flag, or the agents alerted offline, whole. */
export const wholeLine = (section: 'healing' | 'alerted_offline', json: string) => `{"${section}":${json}}\n`

/** The state a journal is replayed over: keyed entries by id (a known id keeps its place), the rest whole. */
export interface ReplayTarget<A, R, W, H> {
  agent: Map<string, A>
  rollout: Map<string, R>
  watch: Map<string, W>
  healing: H
  alerted_offline: string[]
}

/** Checks of one entry each, as a snapshot's entries are checked; null: invalid. */
export interface ReplayChecks<A, R, W, H> {
  agent(entry: unknown): A | null
  rollout(entry: unknown): R | null
  watch(entry: unknown): W | null
  healing(entry: unknown): H | null
  alerted_offline(entry: unknown): string[] | null
  /** The id of a checked entry of a keyed section. */
  idOf(section: KeyedSection, entry: A | R | W): string
}

const KEYED: readonly KeyedSection[] = ['agent', 'rollout', 'watch']

/**
 * Applies the journal `text` to `target` (in order) when it follows `generation`. An invalid
 * entry is dropped (and logged); the rest of a journal whose line is not JSON is not replayed
 * (the last line may be torn by a crash mid-append: that save was never acknowledged).
 * Returns how many changes were applied.
 */
export function replayFleetJournal<A, R, W, H>(
  text: string, generation: number, target: ReplayTarget<A, R, W, H>, checks: ReplayChecks<A, R, W, H>, log: Logger,
): number {
  const lines = text.split('\n')
  const header = parseLine(lines[0])
  if (!isRecord(header) || header.journal !== 1 || header.generation !== generation) {
    if (text.length > 0) log.warn('fleet state journal does not follow the snapshot; not replayed', { generation })
    return 0
  }
  let applied = 0
  for (let i = 1; i < lines.length; i++) {
    if (lines[i] === '') continue
    const entry = parseLine(lines[i])
    if (entry === undefined) {
      if (i !== lines.length - 1) log.error('fleet state journal line is not JSON; the rest is not replayed', { line: i + 1 })
      break
    }
    if (applyLine(entry, target, checks)) applied++
    else log.error('fleet state journal entry is invalid; dropped', { line: i + 1 })
  }
  return applied
}

function applyLine<A, R, W, H>(entry: unknown, target: ReplayTarget<A, R, W, H>, checks: ReplayChecks<A, R, W, H>): boolean {
  if (!isRecord(entry)) return false
  const keys = Object.keys(entry)
  if (keys.length !== 1) return false
  const key = keys[0]
  const value = entry[key]
  for (const section of KEYED) {
    if (key === `${section}_gone`) {
      if (typeof value !== 'string') return false
      target[section].delete(value)
      return true
    }
    if (key !== section) continue
    const checked = checks[section](value)
    if (checked === null) return false
    ;(target[section] as Map<string, A | R | W>).set(checks.idOf(section, checked), checked)
    return true
  }
  if (key === 'healing') {
    const healing = checks.healing(value)
    if (healing === null) return false
    target.healing = healing
    return true
  }
  if (key === 'alerted_offline') {
    const alerted = checks.alerted_offline(value)
    if (alerted === null) return false
    target.alerted_offline = alerted
    return true
  }
  return false
}
