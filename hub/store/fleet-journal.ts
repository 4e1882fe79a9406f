/**
 * The fleet state's journal records (the file, its generation and when it is compacted are
 * journaled-file.ts's, as for the task table): one JSON line per agent, rollout or watched agent
 * changed or forgotten, and healing's history and paused flag, and the list of agents alerted
 * offline, a line each time they change, whole (both are bounded).
 */
import { isRecord } from './journaled-file.ts'

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

/** Applies one journal entry to `target`; false: the entry is invalid. */
export function applyFleetEntry<A, R, W, H>(entry: unknown, target: ReplayTarget<A, R, W, H>, checks: ReplayChecks<A, R, W, H>): boolean {
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
