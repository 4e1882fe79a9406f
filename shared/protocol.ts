/**
 * The wire protocol between hub and sidecar: the one place it is defined.
 * Imports only valibot, so the hub core, the sidecar and Deno share it.
 */
import * as v from 'valibot'
import { HOST_FACT_FIELDS } from './host-facts.ts'
import { Labels } from './labels.ts'
import { variantOption } from './variant-index.ts'

export const PROTOCOL_VERSION = 1

/** Frames larger than this are refused with close code 1009. */
export const MAX_FRAME_BYTES = 256 * 1024

/** A task's `input`, serialized as JSON, may be at most this large. */
export const MAX_INPUT_BYTES = 64 * 1024

/** A task's `result`, serialized as JSON, may be at most this large; a larger one fails the task. */
export const MAX_RESULT_BYTES = 192 * 1024

/** A `task_output` frame carries at most this much of the task's output. */
export const MAX_OUTPUT_FRAME_BYTES = 16 * 1024

/** Before `identified`, the one frame a socket may send (the identify) is at most this large. */
export const MAX_IDENTIFY_BYTES = 16 * 1024

/** The `task_failed` error of a result over MAX_RESULT_BYTES. */
export const RESULT_TOO_LARGE = 'result_too_large'

/**
 * The `task_interrupted` reason of a sidecar that could not write its queue file: refused
 * before it started, yet counted as an attempt, so a task does not bounce off a broken disk forever.
 */
export const STORAGE_UNAVAILABLE = 'storage_unavailable'

/** Close codes used by hub and sidecar (4xxx are ours). */
export const CLOSE = {
  /** The hub is shutting down. */
  GOING_AWAY: 1001,
  TOO_BIG: 1009,
  /** The sidecar closes to be restarted by pm2. */
  SERVICE_RESTART: 1012,
  /** The connection limit was reached while this socket's upgrade was under way (RFC 6455: Try Again Later). */
  TRY_AGAIN_LATER: 1013,
  UNAUTHORIZED: 4001,
  REPLACED: 4002,
  HEARTBEAT_TIMEOUT: 4003,
  IDENTIFY_TIMEOUT: 4008,
  /** The socket kept sending over its frame budget. */
  RATE_LIMITED: 4029,
  /** More than MAX_UNSENT_BYTES of frames queued for a socket that does not read them. */
  UNSENT_BACKLOG: 4030,
} as const

/** Every `error` code: in admin API answers (`{"error": ...}`) and in `error` frames. */
export const ERROR = {
  // Admin API
  UNAUTHORIZED: 'unauthorized',
  NOT_FOUND: 'not_found',
  INVALID_REQUEST: 'invalid_request',
  PAYLOAD_TOO_LARGE: 'payload_too_large',
  INTERNAL_ERROR: 'internal_error',
  AGENT_NOT_FOUND: 'agent_not_found',
  AGENT_NOT_CONNECTED: 'agent_not_connected',
  NOT_SUPERVISED: 'not_supervised',
  TASK_NOT_FOUND: 'task_not_found',
  TASK_FINISHED: 'task_finished',
  ROLLOUT_NOT_FOUND: 'rollout_not_found',
  TOO_MANY_CONNECTIONS: 'too_many_connections',
  UPGRADE_REQUIRED: 'upgrade_required',
  /** No longer sent (v3: the oldest pending socket gives way); kept for clients that know it. */
  TOO_MANY_PENDING: 'too_many_pending',
  STORAGE_UNAVAILABLE: 'storage_unavailable',
  /** AGENTCOM_MAX_EVENT_CLIENTS event streams are open already. */
  TOO_MANY_CLIENTS: 'too_many_clients',
  /** AGENTCOM_MAX_QUEUED_TASKS tasks are queued already: no task was created. */
  QUEUE_FULL: 'queue_full',
  // WebSocket frames
  INVALID_JSON: 'invalid_json',
  UNKNOWN_TYPE: 'unknown_type',
  INVALID_MESSAGE: 'invalid_message',
  ALREADY_IDENTIFIED: 'already_identified',
  NOT_IDENTIFIED: 'not_identified',
  RATE_LIMITED: 'rate_limited',
} as const
export type ErrorCode = (typeof ERROR)[keyof typeof ERROR]

/**
 * How a task ended, on both sides: the sidecar's executor and queue file, and the hub's record
 * of a report. `interrupted` means cut short (force restart, shutdown, crash): it runs again.
 */
export type TaskOutcome =
  | { kind: 'complete'; result: unknown }
  /** `signal`: what killed the task command, when a signal did (never stored or sent). */
  | { kind: 'failed'; error: string; signal?: string }
  | { kind: 'interrupted'; reason: string }

export const AgentId = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9._-]{1,64}$/, 'agent ids are 1 to 64 characters of A-Za-z0-9._-'),
)

/** Bounds on the strings of frames (CONTRACT.md, "Hardening (v3)"): a frame past one is `invalid_message`. */
export const MAX_PM2_NAME_CHARS = 256
export const MAX_PM2_STATUS_CHARS = 256
export const MAX_RESTART_ID_CHARS = 64
export const MAX_REASON_CHARS = 200
export const MAX_ERROR_DETAIL_BYTES = 1024
/** A task's `error` as a sidecar reports it (the end of stderr). */
export const MAX_TASK_ERROR_CHARS = 16 * 1024

export const Pm2Info = v.object({
  name: v.pipe(v.string(), v.maxLength(MAX_PM2_NAME_CHARS)),
  pm_id: v.number(),
  pid: v.nullable(v.number()),
  status: v.pipe(v.string(), v.maxLength(MAX_PM2_STATUS_CHARS)),
  uptime_ms: v.nullable(v.number()),
  restart_count: v.number(),
  memory_bytes: v.nullable(v.number()),
})
export type Pm2Info = v.InferOutput<typeof Pm2Info>

/**
 * A copy of pm2 info built in one literal, for a record that keeps it: the decoder adds its
 * output's keys one by one, which leaves most of them in a separate property store.
 */
export function compactPm2Info(info: Pm2Info): Pm2Info {
  return {
    name: info.name, pm_id: info.pm_id, pid: info.pid, status: info.status,
    uptime_ms: info.uptime_ms, restart_count: info.restart_count, memory_bytes: info.memory_bytes,
  }
}

/** Whether two reports say the same: a repeated report changes no view and emits no event. */
export function samePm2Info(a: Pm2Info | null, b: Pm2Info | null): boolean {
  if (a === null || b === null) return a === b
  return a.name === b.name && a.pm_id === b.pm_id && a.pid === b.pid && a.status === b.status &&
    a.uptime_ms === b.uptime_ms && a.restart_count === b.restart_count && a.memory_bytes === b.memory_bytes
}

const TaskId = v.pipe(v.string(), v.minLength(1), v.maxLength(128))
/** A non-negative whole number a process reports about itself (bytes, milliseconds). */
const Count = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER))
const Text = v.pipe(v.string(), v.maxLength(MAX_TASK_ERROR_CHARS))
const Reason = v.pipe(v.string(), v.maxLength(MAX_REASON_CHARS))
const RestartId = v.pipe(v.string(), v.maxLength(MAX_RESTART_ID_CHARS))
/** An error's `detail`: at most 1 KiB of UTF-8, whatever its characters. */
const Detail = v.pipe(v.string(), v.check((text) => utf8Length(text) <= MAX_ERROR_DETAIL_BYTES, `must be at most ${MAX_ERROR_DETAIL_BYTES} bytes`))

/** Messages a sidecar sends to the hub. */
export const SidecarMessage = v.variant('type', [
  v.object({
    type: v.literal('identify'),
    agent_id: AgentId,
    token: v.pipe(v.string(), v.maxLength(4096)),
    protocol_version: v.literal(PROTOCOL_VERSION),
    pm2_info: v.nullable(Pm2Info),
    supervised: v.boolean(),
    /** Random per sidecar process, so the hub can tell a restarted process without pm2. */
    instance_id: v.optional(v.pipe(v.string(), v.maxLength(64))),
    /** The task this sidecar holds (running, or finished and not yet acknowledged). */
    active_task_id: v.optional(v.nullable(TaskId)),
    ...HOST_FACT_FIELDS,
    /** AGENTCOM_LABELS (shared/labels.ts); absent from older sidecars. */
    labels: v.optional(Labels),
  }),
  v.object({ type: v.literal('ping') }),
  /**
   * pm2's own view of the sidecar (from `pm2 jlist`), sent after `identified`: the identify
   * carries what pm2 put in the process's environment, so the sidecar need not run pm2 first.
   */
  v.object({ type: v.literal('pm2_info'), pm2_info: Pm2Info }),
  /** The sidecar refuses a command, e.g. `not_supervised` for a restart outside pm2. */
  v.object({ type: v.literal('error'), error: v.pipe(v.string(), v.maxLength(64)), detail: v.optional(Detail) }),
  v.object({
    type: v.literal('agent_restarting'),
    reason: Reason,
    restart_id: v.optional(RestartId),
  }),
  /** The sidecar's own process, right after `identified` and every AGENTCOM_STATS_INTERVAL_MS. */
  v.object({
    type: v.literal('stats'),
    rss_bytes: Count,
    heap_used_bytes: Count,
    /** The longest the event loop was late since the last report, beyond its sampling resolution. */
    event_loop_delay_ms: v.pipe(v.number(), v.minValue(0), v.maxValue(86_400_000)),
    uptime_ms: Count,
  }),
  v.object({ type: v.literal('task_accepted'), task_id: TaskId }),
  /**
   * What the running task wrote, in order per stream (at most MAX_OUTPUT_FRAME_BYTES of UTF-8 in
   * `data`). `dropped`: bytes the sidecar left out before this chunk (the task wrote faster than
   * it may send).
   */
  v.object({
    type: v.literal('task_output'), task_id: TaskId, stream: v.picklist(['stdout', 'stderr']),
    data: v.pipe(v.string(), v.maxLength(MAX_OUTPUT_FRAME_BYTES)), dropped: v.optional(Count),
  }),
  v.object({ type: v.literal('task_complete'), task_id: TaskId, result: v.unknown() }),
  v.object({ type: v.literal('task_failed'), task_id: TaskId, error: Text }),
  /** The task was cut short (force restart, shutdown, crash): the hub runs it again. */
  v.object({
    type: v.literal('task_interrupted'), task_id: TaskId, reason: Reason,
    /** false: refused before it started (busy, restarting), so it was not an attempt. */
    started: v.optional(v.boolean()),
  }),
])
export type SidecarMessage = v.InferOutput<typeof SidecarMessage>
export type StatsMessage = Extract<SidecarMessage, { type: 'stats' }>

export const RestartMode = v.picklist(['graceful', 'force'])
export type RestartMode = v.InferOutput<typeof RestartMode>

/** Messages the hub sends to a sidecar. */
export const HubMessage = v.variant('type', [
  v.object({ type: v.literal('identified'), agent_id: v.string() }),
  v.object({ type: v.literal('error'), error: v.string(), detail: v.optional(v.string()) }),
  v.object({ type: v.literal('pong') }),
  v.object({
    type: v.literal('restart_sidecar'),
    reason: v.string(),
    restart_id: v.string(),
    mode: v.optional(RestartMode),
    deadline_s: v.optional(v.nullable(v.number())),
  }),
  v.object({
    type: v.literal('task_assign'),
    task_id: v.string(),
    input: v.unknown(),
    timeout_ms: v.number(),
  }),
  /** The hub has stored this task's outcome; the sidecar may forget it. */
  v.object({ type: v.literal('task_ack'), task_id: v.string() }),
  /**
   * Without a reason: the task is no longer this sidecar's (it was given to another): stop it,
   * report nothing. `reason: "cancelled"`: an operator cancelled it: SIGTERM to its process
   * group, SIGKILL after AGENTCOM_CANCEL_GRACE_MS, then report it interrupted.
   */
  v.object({ type: v.literal('task_cancel'), task_id: v.string(), reason: v.optional(v.literal('cancelled')) }),
])
export type HubMessage = v.InferOutput<typeof HubMessage>

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: ErrorCode; detail: string }

/**
 * Parses one text frame against a schema. Never throws: a bad frame is a value.
 * `error` is `invalid_json`, `unknown_type` or `invalid_message`.
 */
export function decode<T>(
  schema: v.GenericSchema<unknown, T>,
  text: string,
): Decoded<T> {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    return { ok: false, error: ERROR.INVALID_JSON, detail: 'frame is not valid JSON' }
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, error: ERROR.INVALID_MESSAGE, detail: 'frame must be a JSON object' }
  }
  const result = v.safeParse(variantOption(schema, raw), raw)
  if (result.success) return { ok: true, value: result.output }
  const type = (raw as { type?: unknown }).type
  const first = result.issues[0]
  if (first.path?.length === 1 && first.path[0].key === 'type') {
    return {
      ok: false,
      error: 'unknown_type',
      detail: `unknown message type ${JSON.stringify(type)?.slice(0, 64) ?? 'undefined'}`,
    }
  }
  const where = first.path?.map((p) => String(p.key)).join('.') ?? '(root)'
  return { ok: false, error: ERROR.INVALID_MESSAGE, detail: `${where}: ${first.message}` }
}

export const decodeSidecarMessage = (text: string) => decode(SidecarMessage, text)
export const decodeHubMessage = (text: string) => decode(HubMessage, text)

/** A value's size as JSON text in bytes; Infinity when it cannot be serialized (nested too deeply). */
export function jsonBytes(value: unknown): number {
  try {
    return utf8Length(JSON.stringify(value) ?? 'null')
  } catch {
    return Infinity
  }
}

/** Byte length of a string as UTF-8, without a Node Buffer. */
export function utf8Length(text: string): number {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) bytes += 1
    else if (c < 0x800) bytes += 2
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4
      i++
    } else bytes += 3
  }
  return bytes
}
