/**
 * The admin API under /api/admin: agents, restarts, tasks, drain/resume, rollouts and healing.
 * Every route needs an admin token; an agent token is never accepted here.
 */
import { Hono } from 'hono'
import * as v from 'valibot'
import { AgentId, ERROR, MAX_INPUT_BYTES, RestartMode, jsonBytes } from '../../shared/protocol.ts'
import type { Logger } from '../../shared/log.ts'
import type { TokenVerifier } from '../auth/auth.ts'
import type { AdminBackend } from './admin.ts'
import type { EventStreams } from '../events/event-stream.ts'
import { AgentsQuery } from '../agents/agent-pages.ts'
import { jsonBody, params, query } from './validate.ts'
import { tokenRoutes, type TokenRouteDeps } from '../auth/token-routes.ts'
import { joinTokenRoutes } from '../enroll/enroll-routes.ts'
import { restartCommandedView } from './views.ts'
import { TaskExtrasBody, TasksQuery } from '../tasks/rules.ts'
import { labelsOf } from '../tasks/label-query.ts'
import { outputRoutes } from '../tasks/output-routes.ts'
import { rolloutAgents } from '../tasks/rollout-labels.ts'
import { Labels } from '../../shared/labels.ts'
import type { TaskOutputStore } from '../tasks/output.ts'

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
    ...TaskExtrasBody,
  }),
  v.check((b) => b.input !== undefined, 'input is required'),
  v.check((b) => !(b.all === true && b.agent_id !== undefined), 'all and agent_id exclude each other'),
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
    /** Only agents with every one of these (task-control/rollout-labels.ts). */
    labels: v.optional(Labels),
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
  log: Logger
  tokens: Omit<TokenRouteDeps, 'log'>
  /** Task output (task-control/output-routes.ts); `signal` ends its followers when the hub closes. */
  output: { outputs: TaskOutputStore; signal: AbortSignal }
}

/** Behind the access gate (hub/access/gate.ts, mounted in app.ts): the token and its role are checked. */
export function adminRoutes({ admin, streams, verifyToken, log, tokens, output }: Deps) {
  const agentNotFound = { error: ERROR.AGENT_NOT_FOUND }

  return new Hono()
    .route('/', tokenRoutes({ ...tokens, log }))
    .route('/', joinTokenRoutes({ ...tokens, log }))
    .route('/', outputRoutes({ admin, ...output }))
    .get('/agents', query(AgentsQuery), labelsOf, async (c) => {
      const page = await admin.listAgents(c.req.valid('query'), c.get('labels'))
      return c.json(page.next_cursor === undefined ? { agents: page.agents } : page, 200)
    })
    .get('/events', (c) => {
      // The access gate let only a valid admin-audience bearer token this far.
      const token = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')?.[1] ?? ''
      return streams.handle(c, async () => (await verifyToken(token, 'admin')).ok)
    })
    .get('/agents/:agent_id', params(AgentParam), (c) => {
      const agent = admin.getAgent(c.req.valid('param').agent_id)
      // Not awaited when there is nothing to wait for: the GET is answered in this turn
      // (dispatch.ts). Typed as the promise Hono's route types expect; Hono takes either.
      const later = agent instanceof Promise ? agent.then((found) => (found ? c.json(found, 200) : c.json(agentNotFound, 404))) : null
      if (later) return later
      const now = agent as Awaited<typeof agent>
      return (now ? c.json(now, 200) : c.json(agentNotFound, 404)) as unknown as NonNullable<typeof later>
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
    .post('/tasks', jsonBody(TaskBody, { anyJson: ['input'] }), async (c) => {
      const body = c.req.valid('json')
      // Resolves once saved (201 promises the task survives a hub restart); unsaved, it was
      // never created and the answer is 503 (StorageUnavailable).
      const extras = { labels: body.labels, retries: body.retries, retry_delay_ms: body.retry_delay_ms }
      if (body.all === true) return c.json({ tasks: await admin.createTasksForAll(body.input, body.timeout_ms, extras) }, 201)
      const task = await admin.createTask(body.input, body.agent_id ?? null, body.timeout_ms, extras)
      return c.json(task, 201)
    })
    .get('/tasks', query(TasksQuery), async (c) => c.json(await admin.listTasks(c.req.valid('query')), 200))
    .post('/tasks/:task_id/cancel', params(IdParam('task_id')), async (c) => {
      const answer = await admin.cancelTask(c.req.valid('param').task_id)
      if (answer.ok) return c.json(answer.task, 200)
      return answer.error === 'task_finished' ? c.json({ error: ERROR.TASK_FINISHED }, 409) : c.json({ error: ERROR.TASK_NOT_FOUND }, 404)
    })
    .get('/tasks/:task_id', params(IdParam('task_id')), async (c) => {
      const task = await admin.getTask(c.req.valid('param').task_id)
      if (!task) return c.json({ error: ERROR.TASK_NOT_FOUND }, 404)
      return c.json(task, 200)
    })
    .post('/rollouts', jsonBody(RolloutBody), async (c) => {
      const body = c.req.valid('json')
      const created = await admin.createRollout({
        reason: body.reason ?? 'rollout', agent_ids: await rolloutAgents(admin, body.agent_ids, body.labels), max_unavailable: body.max_unavailable ?? 1,
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
