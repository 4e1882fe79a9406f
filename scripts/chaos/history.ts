/**
 * What a chaos run records, in order, with times in ms since its start: the faults injected, the
 * tasks and rollouts it asked for, what it observed of the fleet, and every process exit. The
 * invariants (invariants.ts) are checked over this history and the task command's ledger.
 */
export type FaultKind = 'kill_sidecar' | 'kill_hub' | 'stop_postgres' | 'cut_sidecar' | 'blackhole_sidecar'
export const FAULT_KINDS: readonly FaultKind[] = ['kill_sidecar', 'kill_hub', 'stop_postgres', 'cut_sidecar', 'blackhole_sidecar']

export type Entry =
  /** A fault began (`until`: when it ends, for faults that last). */
  | { t: number; type: 'fault'; kind: FaultKind; target: string; until: number }
  | { t: number; type: 'task_accepted'; task_id: string }
  | { t: number; type: 'task_final'; task_id: string; status: string }
  | { t: number; type: 'rollout_created'; rollout_id: string; agent_ids: string[]; max_unavailable: number }
  /**
   * A rollout asked for whose answer said nothing of its fate: none (the hub was killed) or 5xx
   * (a hub may answer 503 after the rollout began, when its audit record cannot be stored).
   */
  | { t: number; type: 'rollout_uncertain'; agent_ids: string[] }
  /** A look at a running rollout: how many of its agents were down (restart in flight). */
  | { t: number; type: 'rollout_sample'; rollout_id: string; down: number; max_unavailable: number }
  /** A look at healing: its restarts in flight, and the concurrency allowed. */
  | { t: number; type: 'healing_sample'; in_flight: number; max_concurrent: number }
  /** Healing had quarantined the agent (a crash loop); the run resumed it, as an operator would. */
  | { t: number; type: 'quarantine_resumed'; agent_id: string }
  /** Which agents read as connected. */
  | { t: number; type: 'agents_sample'; connected: string[]; all: string[] }
  /** A process exited; `killed` when the run killed it. */
  | { t: number; type: 'exit'; process: string; killed: boolean }
  /**
   * At the end: a sidecar's restarts as pm2 counts them, those the run caused or commanded, and
   * the rollouts naming it that may or may not have begun (at most one restart each).
   */
  | { t: number; type: 'sidecar_restarts'; agent_id: string; restarts: number; explained: number; uncertain: number }

/** One line per start and per end of a task command's run: `<task_id> start|end <ms> <agent_id>`. */
export interface LedgerLine {
  task_id: string
  event: 'start' | 'end'
  t: number
  agent_id: string
}

export function parseLedger(text: string): LedgerLine[] {
  return text.split('\n').filter(Boolean).map((line) => {
    const [task_id, event, t, agent_id = ''] = line.split(' ')
    return { task_id, event: event as 'start' | 'end', t: Number(t), agent_id }
  })
}

export class History {
  readonly entries: Entry[] = []
  constructor(private readonly startedAt = Date.now()) {}
  now(): number {
    return Date.now() - this.startedAt
  }
  /** Epoch ms of a time in the history (the ledger's lines carry epoch ms). */
  epoch(t: number): number {
    return this.startedAt + t
  }
  add(entry: Entry): void {
    this.entries.push(entry)
  }
}
