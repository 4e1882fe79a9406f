/**
 * The admin API under /api/admin: agents, restarts, tasks, drain/resume, rollouts and healing.
 * Every route needs an admin token; an agent token is never accepted here.
 */
import { Hono } from 'hono'
import * as v from 'valibot'
import { AgentId, ERROR, MAX_INPUT_BYTES, RestartMode, jsonBytes } from '../shared/protocol.ts'
import type { Context } from 'hono'
import type { Logger } from '../shared/log.ts'
import type { TokenVerifier } from './auth.ts'
import type { AdminBackend } from './admin.ts'
import type { EventStreams } from './event-stream.ts'
import { AgentsQuery } from './agent-pages.ts'
import { jsonBody, params, query } from './validate.ts'
import { tokenRoutes, type TokenRouteDeps } from './token-routes.ts'
import { restartCommandedView } from './views.ts'
import type { RefusalLog } from './security/refusal-log.ts'

const Reason = v.pipe(v.string(), v.minLength(1), v.maxLength(200))
const DeadlineS = v.pipe(v.number(), v.minValue(0), v.maxValue(86_400))

const RestartBody = v.optional(
  v.object({ reason: v.optional(Reason), mode: v.optional(RestartMode), deadline_s: v.optional(DeadlineS) }),
  {},
)

const TaskBody = v.pipe(
  v.object({
    input: v.unknown(),
    agent_id: v.optional(AgentId),
    timeout_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(86_400_000))),
  }),
  v.check((b) => b.input !== undefined, 'input is required'),
  v.check((b) => jsonBytes(b.input) <= MAX_INPUT_BYTES, `input is larger than ${MAX_INPUT_BYTES / 1024} KiB or nested too deeply`),
)

const RolloutBody = v.optional(
  v.object({
    reason: v.optional(Reason),
    agent_ids: v.optional(v.pipe(
      v.array(AgentId), v.minLength(1), v.maxLength(10_000),
      v.check((ids) => new Set(ids).size === ids.length, 'agent_ids must not repeat'),
    )),
    max_unavailable: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
    mode: v.optional(RestartMode),
    deadline_s: v.optional(DeadlineS),
  }),
  {},
)

const AgentParam = v.object({ agent_id: AgentId })
const IdParam = (key: string) => v.object({ [key]: v.pipe(v.string(), v.minLength(1), v.maxLength(128)) })

interface Deps {
  /** Agents, commands, tasks and rollouts: this hub's memory, or the cluster's database (admin.ts). */
  admin: AdminBackend
  streams: EventStreams
  verifyToken: TokenVerifier
  /** The peer's address, from the runtime (see HubOptions.remoteAddress). */
  peerOf(c: Context): string | null
  log: Logger
  /** Refused requests are logged through this: once per peer per interval. */
  refusals: RefusalLog
  tokens: Omit<TokenRouteDeps, 'log'>
}

export function adminRoutes({ admin, streams, verifyToken, peerOf, log, refusals, tokens }: Deps) {
  const unauthorized = { error: ERROR.UNAUTHORIZED }
  const agentNotFound = { error: ERROR.AGENT_NOT_FOUND }

  return new Hono()
    .use(async (c, next) => {
      const header = c.req.header('authorization') ?? ''
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
      const verdict = match ? await verifyToken(match[1], 'admin') : { ok: false as const, reason: 'missing' }
      if (!verdict.ok) {
        refusals.warn('admin request refused', { peer: peerOf(c), method: c.req.method, path: c.req.path.slice(0, 200), reason: verdict.reason })
        return c.json(unauthorized, 401)
      }
      await next()
    })
    .route('/', tokenRoutes({ ...tokens, log }))
    .get('/agents', query(AgentsQuery), async (c) => {
      const page = await admin.listAgents(c.req.valid('query'))
      return c.json(page.next_cursor === undefined ? { agents: page.agents } : page, 200)
    })
    .get('/events', (c) => {
      // The middleware above let only a valid admin bearer token this far.
      const token = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')?.[1] ?? ''
      return streams.handle(c, async () => (await verifyToken(token, 'admin')).ok)
    })
    .get('/agents/:agent_id', params(AgentParam), async (c) => {
      const agent = await admin.getAgent(c.req.valid('param').agent_id)
      if (!agent) return c.json(agentNotFound, 404)
      return c.json(agent, 200)
    })
    .post('/agents/:agent_id/restart', params(AgentParam), jsonBody(RestartBody), async (c) => {
      const { agent_id } = c.req.valid('param')
      const body = c.req.valid('json')
      const result = await admin.restart(agent_id, {
        reason: body.reason ?? 'admin_commanded',
        mode: body.mode ?? 'graceful',
        deadline_s: body.deadline_s ?? null,
      })
      if (!result.ok) {
        return result.error === ERROR.NOT_SUPERVISED
          ? c.json({ error: ERROR.NOT_SUPERVISED }, 409)
          : c.json({ error: ERROR.AGENT_NOT_CONNECTED }, 404)
      }
      return c.json(restartCommandedView(agent_id, result), 200)
    })
    .post('/agents/:agent_id/drain', params(AgentParam), async (c) => {
      const agent = await admin.drain(c.req.valid('param').agent_id)
      return agent ? c.json(agent, 200) : c.json(agentNotFound, 404)
    })
    .post('/agents/:agent_id/resume', params(AgentParam), async (c) => {
      // Lifts a quarantine too.
      const agent = await admin.resume(c.req.valid('param').agent_id)
      return agent ? c.json(agent, 200) : c.json(agentNotFound, 404)
    })
    .get('/healing', async (c) => c.json(await admin.healing(), 200))
    .post('/healing/pause', async (c) => c.json(await admin.pauseHealing(), 200))
    .post('/healing/resume', async (c) => c.json(await admin.resumeHealing(), 200))
    .post('/tasks', jsonBody(TaskBody), async (c) => {
      const body = c.req.valid('json')
      // Resolves once saved (201 promises the task survives a hub restart); unsaved, it was
      // never created and the answer is 503 (StorageUnavailable).
      const task = await admin.createTask(body.input, body.agent_id ?? null, body.timeout_ms)
      return c.json(task, 201)
    })
    .get('/tasks/:task_id', params(IdParam('task_id')), async (c) => {
      const task = await admin.getTask(c.req.valid('param').task_id)
      if (!task) return c.json({ error: ERROR.TASK_NOT_FOUND }, 404)
      return c.json(task, 200)
    })
    .post('/rollouts', jsonBody(RolloutBody), async (c) => {
      const body = c.req.valid('json')
      const created = await admin.createRollout({
        reason: body.reason ?? 'rollout', agent_ids: body.agent_ids, max_unavailable: body.max_unavailable ?? 1,
        mode: body.mode ?? 'graceful', deadline_s: body.deadline_s ?? null,
      })
      if (!created.ok) return c.json({ error: created.error, agent_id: created.agent_id }, created.error === ERROR.NOT_SUPERVISED ? 409 : 404)
      return c.json(created.rollout, 201)
    })
    .get('/rollouts/:rollout_id', params(IdParam('rollout_id')), async (c) => {
      const rollout = await admin.getRollout(c.req.valid('param').rollout_id)
      if (!rollout) return c.json({ error: ERROR.ROLLOUT_NOT_FOUND }, 404)
      return c.json(rollout, 200)
    })
    .post('/rollouts/:rollout_id/cancel', params(IdParam('rollout_id')), async (c) => {
      const rollout = await admin.cancelRollout(c.req.valid('param').rollout_id)
      if (!rollout) return c.json({ error: ERROR.ROLLOUT_NOT_FOUND }, 404)
      return c.json(rollout, 200)
    })
}
