/**
 * The admin API's answers, as valibot schemas: the one place their shape is written. The
 * OpenAPI document (`GET /api/openapi.json`, hub/api/) is generated from them, the operator CLI's
 * client (cli/operator/client.ts) takes its types from them, and hub/api/schema-checks.ts holds
 * the hub's own view types to them at compile time. Objects are open (more fields may be
 * added, CONTRACT.md); fields the v3 contract announces and another branch builds are optional
 * here until they land.
 */
import * as v from 'valibot'
import { Pm2Info } from './protocol.ts'

const EpochMs = v.number()
const Cursor = v.nullable(v.string())

export const AgentStatus = v.picklist(['idle', 'working', 'restarting', 'offline'])
export const RestartState = v.picklist(['commanded', 'deferred', 'restarting', 'completed', 'failed'])
export const RestartModeName = v.picklist(['graceful', 'force'])
export const TaskStatus = v.picklist(['queued', 'assigned', 'working', 'completed', 'failed', 'cancelled'])
export const RolloutState = v.picklist(['running', 'completed', 'failed', 'cancelled'])

export { Pm2Info }

/** The sidecar's last stats report, and when the hub received it. */
export const AgentStats = v.object({
  rss_bytes: v.number(), heap_used_bytes: v.number(), event_loop_delay_ms: v.number(), uptime_ms: v.number(), at: EpochMs,
})

export const Restart = v.object({
  restart_id: v.string(), reason: v.string(), mode: RestartModeName, deadline_s: v.nullable(v.number()), state: RestartState,
  requested_at: EpochMs, updated_at: EpochMs, error: v.nullable(v.string()), rollout_id: v.nullable(v.string()),
})

export const HostFacts = v.object({
  hostname: v.nullable(v.string()), platform: v.nullable(v.string()), arch: v.nullable(v.string()), node_version: v.nullable(v.string()),
})

export const Agent = v.object({
  agent_id: v.string(),
  connected: v.boolean(),
  status: AgentStatus,
  connected_at: v.nullable(EpochMs),
  last_seen: v.nullable(EpochMs),
  pm2_info: v.nullable(Pm2Info),
  supervised: v.boolean(),
  drained: v.boolean(),
  quarantined: v.boolean(),
  task_id: v.nullable(v.string()),
  stats: v.nullable(AgentStats),
  restart: v.nullable(Restart),
  hub_id: v.string(),
  // Install and run (v3): host facts and labels.
  version: v.optional(v.nullable(v.string())),
  host: v.optional(v.nullable(HostFacts)),
  labels: v.optional(v.array(v.string())),
})

export const AgentList = v.object({ agents: v.array(Agent), next_cursor: v.optional(Cursor) })

export const RestartCommanded = v.object({
  status: v.literal('restart_commanded'), agent_id: v.string(), reason: v.string(), restart_id: v.string(),
  mode: RestartModeName, state: RestartState, already_pending: v.boolean(),
})

export const Task = v.object({
  task_id: v.string(),
  status: TaskStatus,
  input: v.unknown(),
  agent_id: v.nullable(v.string()),
  attempts: v.number(),
  result: v.unknown(),
  error: v.nullable(v.string()),
  timeout_ms: v.number(),
  created_at: EpochMs,
  updated_at: EpochMs,
  // Task control (v3).
  labels: v.optional(v.array(v.string())),
  retries: v.optional(v.number()),
  retry_delay_ms: v.optional(v.number()),
  /** Runs so far that failed and were queued again. */
  retried: v.optional(v.number()),
  /** A retry waits until then; null: may run now. */
  run_after: v.optional(v.nullable(EpochMs)),
})

/** `POST /api/admin/tasks` with `"all": true` (v3). */
export const TaskFanOut = v.object({ tasks: v.array(Task) })
export const TaskList = v.object({ tasks: v.array(Task), next_cursor: Cursor })

export const OutputChunk = v.object({ stream: v.picklist(['stdout', 'stderr']), data: v.string(), at: EpochMs })
export const TaskOutput = v.object({ task_id: v.string(), output: v.array(OutputChunk), truncated: v.boolean() })

export const RolloutAgent = v.object({
  agent_id: v.string(),
  state: v.picklist(['waiting', 'commanded', 'deferred', 'restarting', 'completed', 'failed']),
  restart_id: v.nullable(v.string()),
  error: v.optional(v.string()),
})

export const Rollout = v.object({
  rollout_id: v.string(), state: RolloutState, reason: v.string(), mode: RestartModeName, deadline_s: v.nullable(v.number()),
  max_unavailable: v.number(), error: v.nullable(v.string()), agents: v.array(RolloutAgent),
  created_at: EpochMs, updated_at: EpochMs,
  labels: v.optional(v.array(v.string())),
})

export const HealingAction = v.object({
  action_id: v.string(),
  agent_id: v.string(),
  rule: v.picklist(['crash_loop', 'memory', 'task_overdue']),
  action: v.picklist(['restart', 'quarantine', 'escalate']),
  detail: v.string(),
  restart_id: v.nullable(v.string()),
  state: v.picklist(['commanded', 'deferred', 'restarting', 'completed', 'failed', 'quarantined', 'lifted', 'alerted']),
  at: EpochMs,
  updated_at: EpochMs,
})

export const HealingView = v.object({
  paused: v.boolean(),
  policy: v.object({
    crash_limit: v.number(), window_s: v.number(), max_memory_mb: v.nullable(v.number()),
    max_concurrent: v.number(), cooldown_s: v.number(), max_per_agent: v.number(),
  }),
  actions: v.array(HealingAction),
})

export const AgentTokenMinted = v.object({
  agent_id: v.string(), token: v.string(), jti: v.string(), issued_at: EpochMs, expires_at: v.nullable(EpochMs),
})
export const AgentTokensRevoked = v.object({ agent_id: v.string(), revoked_before: EpochMs })
export const TokenRevoked = v.object({ jti: v.string(), revoked: v.literal(true) })
/** Access (v3): `POST /api/admin/tokens`. */
export const AdminTokenMinted = v.object({
  token: v.string(), jti: v.string(), role: v.picklist(['viewer', 'operator', 'admin']), name: v.string(), expires_at: EpochMs,
})
/** Enrollment (v3): `POST /api/admin/join-tokens` and `POST /api/enroll`. */
export const JoinTokenMinted = v.object({ token: v.string(), jti: v.string(), expires_at: EpochMs, max_uses: v.number() })
export const Enrolled = v.object({ agent_id: v.string(), token: v.string(), jti: v.string() })

export const AuditRecord = v.object({
  audit_id: v.string(),
  at: EpochMs,
  actor: v.union([
    v.object({ name: v.string(), role: v.string(), jti: v.string() }),
    v.object({ join_jti: v.string() }),
  ]),
  peer: v.nullable(v.string()),
  action: v.string(),
  target: v.nullable(v.string()),
  detail: v.unknown(),
  status: v.number(),
})
export const AuditPage = v.object({ records: v.array(AuditRecord), next_cursor: Cursor })

/** Every error answer: `{"error": <code>, ...}` (more fields for some codes). */
export const ErrorBody = v.object({ error: v.string() })
export const InvalidRequest = v.object({
  error: v.literal('invalid_request'),
  issues: v.array(v.object({ path: v.string(), message: v.string() })),
})

/** The OpenAPI document itself, as far as a client needs to know. */
export const OpenApiDocument = v.object({ openapi: v.string(), info: v.object({ title: v.string(), version: v.string() }), paths: v.record(v.string(), v.unknown()) })

export type Agent = v.InferOutput<typeof Agent>
export type AgentList = v.InferOutput<typeof AgentList>
export type RestartCommanded = v.InferOutput<typeof RestartCommanded>
export type Task = v.InferOutput<typeof Task>
export type TaskFanOut = v.InferOutput<typeof TaskFanOut>
export type TaskList = v.InferOutput<typeof TaskList>
export type TaskOutput = v.InferOutput<typeof TaskOutput>
export type OutputChunk = v.InferOutput<typeof OutputChunk>
export type Rollout = v.InferOutput<typeof Rollout>
export type HealingAction = v.InferOutput<typeof HealingAction>
export type HealingView = v.InferOutput<typeof HealingView>
export type AuditPage = v.InferOutput<typeof AuditPage>
export type AuditRecord = v.InferOutput<typeof AuditRecord>
export type ErrorBody = v.InferOutput<typeof ErrorBody>

/**
 * The schemas the document names (`#/components/schemas/<name>`): an answer or a field that is
 * one of them is written as a reference. Add a schema here to give it a name.
 */
export const NAMED_SCHEMAS = {
  Pm2Info, AgentStats, Restart, HostFacts, Agent, AgentList, RestartCommanded, Task, TaskFanOut, TaskList,
  OutputChunk, TaskOutput, RolloutAgent, Rollout, HealingAction, HealingView, AgentTokenMinted, AgentTokensRevoked,
  TokenRevoked, AdminTokenMinted, JoinTokenMinted, Enrolled, AuditRecord, AuditPage, ErrorBody, InvalidRequest,
}
