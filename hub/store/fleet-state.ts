/**
 * What a single hub keeps of its fleet in the data dir besides tasks and revocations: the
 * agents' restarts, drains and quarantines, the rollouts, healing's history and paused flag and
 * each agent's last process and crashes (`healing_agents`), so a hub restart loses none of them
 * (a cluster keeps them in PostgreSQL). A snapshot and its journal (journaled-file.ts; the records
 * fleet-journal.ts); every field validated on load, and a file that is not such a state moved
 * aside (`<path>.corrupt-<ms>`), as the task file is, so the hub always starts.
 */
import * as v from 'valibot'
import { AgentId, Pm2Info, RestartMode } from '../../shared/protocol.ts'
import type { Logger } from '../../shared/log.ts'
import type { SavedAgent } from '../agents/fleet.ts'
import type { SavedRollout } from '../rollouts/memory-store.ts'
import type { SavedHealing } from '../healing/healing-policy.ts'
import type { TaskFiles } from './state-files.ts'
import { applyFleetEntry, type ReplayChecks, type ReplayTarget } from './fleet-journal.ts'
import { JournaledFile, describeIssue } from './journaled-file.ts'

/** The file in the data dir. */
export const FLEET_STATE_FILE = 'hub-fleet.json'

export interface FleetState {
  agents: SavedAgent[]
  rollouts: SavedRollout[]
  healing: SavedHealing
  /** Agents alerted offline and not yet seen back (hub/alerts/fleet-alerts.ts). */
  alertedOffline: string[]
}

/**
 * The file's text from its parts, each already JSON (the saver keeps each agent's and each
 * rollout's text and encodes again only what changed: a save is a join, not a walk of the fleet).
 */
export function encodeFleetState(parts: {
  agents: Iterable<string>; rollouts: Iterable<string>; healing: string; healingAgents?: Iterable<string>; alertedOffline?: string
  /** The journal that follows this snapshot (fleet-journal.ts); absent: none does. */
  generation?: number
}): string {
  const healingAgents = parts.healingAgents ? `,"healing_agents":[${[...parts.healingAgents].join(',')}]` : ''
  const alerted = parts.alertedOffline ? `,"alerted_offline":${parts.alertedOffline}` : ''
  const generation = parts.generation === undefined ? '' : `,"generation":${parts.generation}`
  return `{"version":1${generation},"agents":[${[...parts.agents].join(',')}],"rollouts":[${[...parts.rollouts].join(',')}],"healing":${parts.healing}${healingAgents}${alerted}}`
}

/** Where the fleet state lives: a file and its journal, or (tests) anything that takes snapshots. */
export interface FleetStateStore {
  /** The saved state, or null when there is none (or it was corrupt and moved aside). */
  load(): Promise<FleetState | null>
  /** Stores the whole state, the text encodeFleetState made. */
  save(text: string): Promise<void>
  /**
   * Stores what changed since the last save that resolved: `lines` of the journal
   * (fleet-journal.ts), or the whole state from `snapshot` if the store would rather write that.
   * Absent: every save is a `save` of the whole state.
   */
  saveChanges?(lines: string, snapshot: (generation: number) => string): Promise<void>
}

// Bounds far above what a hub keeps (agents are forgotten after the offline TTL, at most 100
// finished rollouts, 1000 healing actions), so a file outside them is not this hub's.
const MAX_AGENTS = 1_000_000
const MAX_ROLLOUTS = 10_000
const MAX_ACTIONS = 100_000

const Id = v.pipe(v.string(), v.minLength(1), v.maxLength(128))
const Text = v.pipe(v.string(), v.maxLength(16 * 1024))
const Time = v.pipe(v.number(), v.minValue(0))
const Seconds = v.nullable(v.pipe(v.number(), v.minValue(0)))
const Count = v.pipe(v.number(), v.integer(), v.minValue(0))

const RestartSchema = v.object({
  restart_id: Id,
  reason: Text,
  mode: RestartMode,
  deadline_s: Seconds,
  state: v.picklist(['commanded', 'deferred', 'restarting', 'completed', 'failed']),
  requested_at: Time,
  updated_at: Time,
  error: v.nullable(Text),
  before_restart_count: v.nullable(Count),
  before_pid: v.nullable(v.number()),
  before_instance: v.nullable(v.pipe(v.string(), v.maxLength(64))),
  rollout_id: v.nullable(Id),
})

const AgentSchema = v.object({
  agent_id: AgentId,
  supervised: v.boolean(),
  pm2_info: v.nullable(Pm2Info),
  last_seen: v.nullable(Time),
  drained: v.boolean(),
  quarantined: v.boolean(),
  restart: v.nullable(RestartSchema),
})

const RolloutSchema = v.object({
  rollout_id: Id,
  state: v.picklist(['running', 'completed', 'failed', 'cancelled']),
  reason: Text,
  mode: RestartMode,
  deadline_s: Seconds,
  max_unavailable: v.pipe(v.number(), v.integer(), v.minValue(1)),
  agents: v.pipe(v.array(v.object({ agent_id: AgentId, restart: v.nullable(RestartSchema), error: v.nullable(Text) })), v.maxLength(MAX_AGENTS)),
  error: v.nullable(Text),
  created_at: Time,
  updated_at: Time,
})

const ActionSchema = v.object({
  action_id: Id,
  agent_id: AgentId,
  rule: v.picklist(['crash_loop', 'memory', 'task_overdue']),
  action: v.picklist(['restart', 'quarantine', 'escalate']),
  detail: Text,
  restart_id: v.nullable(Id),
  state: v.picklist(['commanded', 'deferred', 'restarting', 'completed', 'failed', 'quarantined', 'lifted', 'alerted']),
  at: Time,
  updated_at: Time,
})

const WatchSchema = v.object({
  agent_id: AgentId,
  restart_count: v.nullable(Count),
  pid: v.nullable(v.number()),
  crashes: v.pipe(v.array(Time), v.maxLength(1000)),
  keep_until: v.nullable(Time),
})

const HealingSchema = v.object({ paused: v.boolean(), actions: v.pipe(v.array(ActionSchema), v.maxLength(MAX_ACTIONS)) })

const FileSchema = v.object({
  version: v.literal(1),
  agents: v.pipe(v.array(AgentSchema), v.maxLength(MAX_AGENTS)),
  rollouts: v.pipe(v.array(RolloutSchema), v.maxLength(MAX_ROLLOUTS)),
  healing: HealingSchema,
  // Absent from the files of hubs before it: their agents' next identify is the baseline.
  healing_agents: v.optional(v.pipe(v.array(WatchSchema), v.maxLength(MAX_AGENTS))),
  // Absent before alert episodes were saved: nothing was alerted as far as the file knows.
  alerted_offline: v.optional(v.pipe(v.array(AgentId), v.maxLength(MAX_AGENTS))),
  // The journal that follows this snapshot; absent in files of before the journal: none does.
  generation: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
})

const AlertedSchema = v.pipe(v.array(AgentId), v.maxLength(MAX_AGENTS))

const checked = <S extends v.GenericSchema>(schema: S) => (entry: unknown): v.InferOutput<S> | null => {
  const parsed = v.safeParse(schema, entry)
  return parsed.success ? parsed.output : null
}
type Agent = v.InferOutput<typeof AgentSchema>
type Rollout = v.InferOutput<typeof RolloutSchema>
type Watch = v.InferOutput<typeof WatchSchema>
type Healing = v.InferOutput<typeof HealingSchema>
/** The state a journal is replayed over: the snapshot's entries by id. */
type Target = ReplayTarget<Agent, Rollout, Watch, Healing>
const CHECKS: ReplayChecks<Agent, Rollout, Watch, Healing> = {
  agent: checked(AgentSchema),
  rollout: checked(RolloutSchema),
  watch: checked(WatchSchema),
  healing: checked(HealingSchema),
  alerted_offline: checked(AlertedSchema),
  idOf: (section, entry) => ('rollout_id' in entry ? entry.rollout_id : entry.agent_id),
}

/**
 * The fleet's state in one file and its journal (each runtime entry supplies its file access): a
 * save appends what changed and, past a few times the snapshot's size in journal (or when the
 * journal is in doubt: at start, after a failed append), writes the whole state anew.
 */
export function createFileFleetStateStore(path: string, files: TaskFiles, log: Logger, now: () => number = Date.now): FleetStateStore {
  const file = new JournaledFile(path, files, log, 'fleet state', now)
  return {
    async load() {
      const target = await file.load<Target>({
        corrupt: 'fleet state file is corrupt; moved aside, starting without it',
        async decode(json) {
          const parsed = v.safeParse(FileSchema, json)
          if (!parsed.success) return { issue: describeIssue(parsed.issues[0], '(file)') }
          return { state: targetOf(parsed.output), generation: parsed.output.generation }
        },
        apply: (target, entry) => applyFleetEntry(entry, target, CHECKS),
      })
      return target && {
        agents: [...target.agent.values()], rollouts: [...target.rollout.values()],
        healing: { ...target.healing, agents: [...target.watch.values()] }, alertedOffline: target.alerted_offline,
      }
    },
    // A whole state made by encodeFleetState without a generation: it gets the one its journal will follow.
    save: (text) => file.writeSnapshot((generation) => text.replace(/^\{"version":1(,"generation":\d+)?,/, `{"version":1,"generation":${generation},`)),
    saveChanges: (lines, snapshot) => file.save(() => lines, snapshot),
  }
}

/** A snapshot's entries by id, for its journal to be replayed over. */
function targetOf(file: v.InferOutput<typeof FileSchema>): Target {
  return {
    agent: new Map(file.agents.map((a) => [a.agent_id, a])),
    rollout: new Map(file.rollouts.map((r) => [r.rollout_id, r])),
    watch: new Map((file.healing_agents ?? []).map((w) => [w.agent_id, w])),
    healing: file.healing,
    alerted_offline: file.alerted_offline ?? [],
  }
}
