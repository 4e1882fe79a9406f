/**
 * The operator verbs' one way to the hub: a typed client of the admin API, its answers typed
 * from the same valibot schemas the OpenAPI document is built from (shared/api-schemas.ts).
 * Written by hand over those types rather than `hono/client` over the app's type: the verbs
 * also call routes other branches add (task list, cancel and output, audit), which the app's
 * type does not hold yet.
 */
import type * as S from '../../shared/api-schemas.ts'
import { readSse, type SseEvent } from './sse.ts'

export const DEFAULT_URL = 'http://127.0.0.1:8787'

/** An answer as it arrived, for a caller that checks answers against the document (the tests). */
export interface Answer {
  method: string
  path: string
  status: number
  body: unknown
}

export interface ClientOptions {
  url: string
  token: string | undefined
  /** Called with every JSON answer received. Default: none. */
  onAnswer?: (answer: Answer) => void
  fetch?: typeof fetch
}

/** The hub answered with an error, or could not be reached (`status` 0). `message` is for people. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly body: unknown, message: string) {
    super(message)
  }

  /** The error code of the answer (`{"error": <code>}`), or null. */
  get code(): string | null {
    const error = (this.body as { error?: unknown } | null)?.error
    return typeof error === 'string' ? error : null
  }
}

type Query = Record<string, string | number | boolean | readonly string[] | undefined>

export interface RestartRequest { reason?: string; mode?: 'graceful' | 'force'; deadline_s?: number }
export interface RolloutRequest { reason?: string; max_unavailable?: number; labels?: string[]; agent_ids?: string[] }
export interface TaskRequest {
  input: unknown
  agent_id?: string
  labels?: string[]
  all?: boolean
  timeout_ms?: number
  retries?: number
}

export type Client = ReturnType<typeof createClient>

export function createClient({ url, token, onAnswer, fetch: fetchImpl = fetch }: ClientOptions) {
  const base = url.replace(/\/+$/, '')

  async function send(method: string, path: string, init: { query?: Query; body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json', ...init.headers }
    if (token) headers.authorization = `Bearer ${token}`
    if (init.body !== undefined) headers['content-type'] = 'application/json'
    try {
      return await fetchImpl(`${base}${path}${queryString(init.query)}`, {
        method, headers, signal: init.signal, body: init.body === undefined ? undefined : JSON.stringify(init.body),
      })
    } catch (err) {
      if (init.signal?.aborted) throw err
      const cause = (err as { cause?: { code?: string; message?: string } }).cause
      throw new ApiError(0, null, `cannot reach the hub at ${base}: ${cause?.code ?? cause?.message ?? (err as Error).message}`)
    }
  }

  async function call<T>(method: string, path: string, init: { query?: Query; body?: unknown } = {}): Promise<T> {
    const res = await send(method, path, init)
    const text = await res.text()
    let body: unknown = text
    try {
      body = JSON.parse(text)
    } catch {
      // Not JSON: kept as text for the message below.
    }
    onAnswer?.({ method, path: `${path}${queryString(init.query)}`, status: res.status, body })
    if (!res.ok) throw new ApiError(res.status, body, describeError(method, path, res.status, body, token))
    return body as T
  }

  /** An event stream; throws ApiError when the hub refuses it. */
  async function stream(path: string, init: { query?: Query; lastEventId?: string | null; signal?: AbortSignal }): Promise<AsyncGenerator<SseEvent>> {
    const res = await send('GET', path, {
      query: init.query, signal: init.signal,
      headers: { accept: 'text/event-stream', ...(init.lastEventId ? { 'last-event-id': init.lastEventId } : {}) },
    })
    if (!res.ok || !res.body) {
      const body = await res.json().catch(() => null)
      onAnswer?.({ method: 'GET', path, status: res.status, body })
      throw new ApiError(res.status, body, describeError('GET', path, res.status, body, token))
    }
    return readSse(res.body)
  }

  const agent = (id: string) => `/api/admin/agents/${encodeURIComponent(id)}`
  const task = (id: string) => `/api/admin/tasks/${encodeURIComponent(id)}`
  const rollout = (id: string) => `/api/admin/rollouts/${encodeURIComponent(id)}`
  return {
    url: base,
    listAgents: (q: { status?: string; label?: string[] } = {}) => call<S.AgentList>('GET', '/api/admin/agents', { query: q }),
    getAgent: (id: string) => call<S.Agent>('GET', agent(id)),
    restart: (id: string, body: RestartRequest) => call<S.RestartCommanded>('POST', `${agent(id)}/restart`, { body }),
    drain: (id: string) => call<S.Agent>('POST', `${agent(id)}/drain`),
    resume: (id: string) => call<S.Agent>('POST', `${agent(id)}/resume`),
    createRollout: (body: RolloutRequest) => call<S.Rollout>('POST', '/api/admin/rollouts', { body }),
    getRollout: (id: string) => call<S.Rollout>('GET', rollout(id)),
    cancelRollout: (id: string) => call<S.Rollout>('POST', `${rollout(id)}/cancel`),
    createTask: (body: TaskRequest) => call<S.Task | S.TaskFanOut>('POST', '/api/admin/tasks', { body }),
    listTasks: (q: { status?: string; agent_id?: string; limit?: number } = {}) => call<S.TaskList>('GET', '/api/admin/tasks', { query: q }),
    getTask: (id: string) => call<S.Task>('GET', task(id)),
    cancelTask: (id: string) => call<S.Task>('POST', `${task(id)}/cancel`),
    taskOutput: (id: string) => call<S.TaskOutput>('GET', `${task(id)}/output`),
    /** `event: output` per chunk, then `event: end` with the final Task. */
    followTaskOutput: (id: string, signal?: AbortSignal) => stream(`${task(id)}/output`, { query: { follow: 1 }, signal }),
    events: (lastEventId: string | null, signal?: AbortSignal) => stream('/api/admin/events', { lastEventId, signal }),
    healing: () => call<S.HealingView>('GET', '/api/admin/healing'),
    pauseHealing: () => call<S.HealingView>('POST', '/api/admin/healing/pause'),
    resumeHealing: () => call<S.HealingView>('POST', '/api/admin/healing/resume'),
    audit: (q: { limit?: number } = {}) => call<S.AuditPage>('GET', '/api/admin/audit', { query: q }),
  }
}

function queryString(query: Query | undefined): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined) continue
    for (const one of Array.isArray(value) ? value : [value]) params.append(key, String(one))
  }
  const text = params.toString()
  return text ? `?${text}` : ''
}

/** One line for people: what was refused, and why. Never the token. */
export function describeError(method: string, path: string, status: number, body: unknown, token: string | undefined): string {
  const b = (body ?? {}) as { error?: unknown; issues?: { path: string; message: string }[]; required_role?: string; agent_id?: string }
  const code = typeof b.error === 'string' ? b.error : null
  if (status === 401) {
    return token
      ? 'the hub refused the token (401 unauthorized): it is invalid, expired, revoked or not an admin token'
      : 'no token: set AGENTCOM_TOKEN or pass --token (401 unauthorized)'
  }
  if (status === 403) return `the token's role may not do this${b.required_role ? `: it needs ${b.required_role}` : ''} (403 forbidden)`
  if (code === 'invalid_request') {
    const issues = (b.issues ?? []).map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')
    return `invalid request${issues ? `: ${issues}` : ''} (400)`
  }
  if (code === 'not_found' && status === 404) return `${method} ${path}: this hub has no such route (404 not_found)`
  // The thing the route names (`/agents/<id>`, `/tasks/<id>`, ...), or the one the body names.
  const target = b.agent_id ?? /\/(?:agents|tasks|rollouts)\/([^/?]+)/.exec(path)?.[1]
  if (code) return `${code.replace(/_/g, ' ')}${target ? `: ${decodeURIComponent(target)}` : ''} (${status} ${code})`
  return `${method} ${path} answered ${status}`
}
