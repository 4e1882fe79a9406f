/**
 * GET /api/openapi.json: every route the app registers under /api/ is in it (read from the
 * app's own route table), requests come from the routes' valibot schemas, and answers the
 * routes give validate against what it declares.
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { Hono } from 'hono'
import { compileErrors, validate } from '@readme/openapi-parser'
import * as v from 'valibot'
import type { Hub } from '../../hub/app.ts'
import { createTestHub } from '../../support/in-process-hub.ts'
import { signAdminToken } from '../../hub/auth/auth.ts'
import { buildOpenApiDocument } from '../../hub/api/openapi.ts'
import { jsonBody, params, query } from '../../hub/api/validate.ts'
import { silentLogger } from '../../shared/log.ts'
import { createAnswerChecker } from '../../support/openapi-check.ts'

const SECRET = 's'.repeat(40)

let hub: Hub
let doc: any
let token: string

beforeEach(async () => {
  hub = createTestHub({ secret: SECRET, log: silentLogger })
  token = await signAdminToken(SECRET)
  const res = await hub.app.request('/api/openapi.json')
  expect(res.status).toBe(200)
  doc = await res.json()
})

async function call(method: string, path: string, body?: unknown, bearer = token) {
  const res = await hub.app.request(path, {
    method, headers: { authorization: `Bearer ${bearer}` }, body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { method, path, status: res.status, body: await res.json() }
}

describe('GET /api/openapi.json', () => {
  it('is an OpenAPI 3.1 document with a bearer scheme, served without a token', () => {
    expect(doc.openapi).toBe('3.1.0')
    expect(doc.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    expect(doc.security).toEqual([{ bearer: [] }])
    expect(doc.paths['/api/openapi.json'].get.security).toEqual([])
    expect(doc.paths['/api/admin/agents'].get.security).toBeUndefined()
  })

  it('is valid OpenAPI 3.1 for an independent validator', async () => {
    // validate() dereferences in place: give it a copy.
    const result = await validate(structuredClone(doc))
    expect(result.valid ? 'valid' : compileErrors(result)).toBe('valid')
    const broken = structuredClone(doc)
    broken.paths['/api/admin/agents'].get.parameters[0].in = 'body'
    expect((await validate(broken)).valid).toBe(false)
  })

  it('has every route the app registers under /api/', () => {
    const registered = hub.app.routes
      .filter((r) => r.path.startsWith('/api/') && r.method !== 'ALL' && !r.path.endsWith('*'))
      .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`)
    expect(registered.length).toBeGreaterThan(15)
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops as object).map((m) => `${m} ${path}`))
    expect(new Set(documented)).toEqual(new Set(registered))
  })

  it('takes request bodies, path and query parameters from the validators', () => {
    const restart = doc.paths['/api/admin/agents/{agent_id}/restart'].post
    expect(restart.parameters).toEqual([
      { name: 'agent_id', in: 'path', required: true, schema: expect.objectContaining({ type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' }) },
    ])
    expect(restart.requestBody.required).toBe(false)
    expect(restart.requestBody.content['application/json'].schema.properties).toMatchObject({
      reason: { type: 'string', minLength: 1, maxLength: 200 }, mode: { enum: ['graceful', 'force'] },
    })
    const list = doc.paths['/api/admin/agents'].get
    // The filters other capabilities add (?version=, ?label=) are in it too: at least these.
    expect(list.parameters.map((p: any) => [p.name, p.in, p.required])).toEqual(
      expect.arrayContaining([['status', 'query', false], ['limit', 'query', false], ['cursor', 'query', false], ['version', 'query', false]]))
    expect(doc.paths['/api/admin/tasks'].post.requestBody.required).toBe(true)
    // The role each route needs, from the route table the access gate reads.
    expect(doc.paths['/api/admin/tasks'].post['x-required-role']).toBe('admin')
    expect(doc.paths['/api/admin/agents/{agent_id}/restart'].post['x-required-role']).toBe('operator')
    expect(list['x-required-role']).toBe('viewer')
    expect(doc.paths['/api/admin/agents/{agent_id}/restart'].post.responses['403']).toBeDefined()
    expect(list.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/AgentList' })
    expect(list.responses['401'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/ErrorBody' })
  })

  it('documents a route with no declared answer as generic JSON, with its request schema', () => {
    const app = new Hono()
      .post('/api/widgets/:id', params(v.object({ id: v.string() })), query(v.object({ q: v.optional(v.string()) })),
        jsonBody(v.object({ size: v.number() })), (c) => c.json({}, 201))
    const widget = (buildOpenApiDocument(app.routes) as any).paths['/api/widgets/{id}'].post
    expect(widget.operationId).toBe('postWidgetsId')
    expect(widget.requestBody).toEqual({ required: true, content: { 'application/json': { schema: { type: 'object', properties: { size: { type: 'number' } }, required: ['size'] } } } })
    expect(widget.parameters.map((p: any) => p.name)).toEqual(['id', 'q'])
    expect(widget.responses['2XX'].content['application/json'].schema).toEqual({})
    expect(widget.responses['400']).toBeDefined()
  })

  it('declares schemas the answers of the routes validate against, and that refuse a wrong answer', async () => {
    const checker = createAnswerChecker(doc)
    const answers = [
      await call('GET', '/api/admin/agents'),
      await call('GET', '/api/admin/agents/nobody'),
      await call('POST', '/api/admin/tasks', { input: { n: 1 } }),
      await call('POST', '/api/admin/tasks', { input: 1, timeout_ms: -1 }),
      await call('GET', '/api/admin/healing'),
      await call('POST', '/api/admin/healing/pause'),
      await call('POST', '/api/admin/agents/a-1/tokens', { ttl_s: 60 }),
      await call('POST', '/api/admin/agents/a-1/revoke'),
      await call('GET', '/api/admin/rollouts/nope'),
      await call('GET', '/api/openapi.json'),
      await call('GET', '/api/admin/agents', undefined, 'not-a-token'),
    ]
    expect(answers.map((a) => a.status)).toEqual([200, 404, 201, 400, 200, 200, 201, 200, 404, 200, 401])
    const task = answers[2].body as { task_id: string }
    answers.push(await call('GET', `/api/admin/tasks/${task.task_id}`))
    expect(answers.map((a) => checker.check(a)).filter(Boolean)).toEqual([])
    expect(checker.check({ method: 'GET', path: `/api/admin/tasks/${task.task_id}`, status: 200, body: { ...task, status: 'lost' } }))
      .toMatch(/^GET \/api\/admin\/tasks\/\{task_id\} 200: .*must be equal to one of the allowed values/)
    expect(checker.check({ method: 'GET', path: '/api/admin/agents', status: 401, body: { agents: [] } }))
      .toBe("GET /api/admin/agents 401: data must have required property 'error'")
    // An agent as the socket layer joins one (routes.test.ts does the same).
    hub.fleet.identify('a-1', { send() {}, close() {} }, {
      supervised: true, instance_id: 'i-1',
      pm2_info: { name: 'agentcom-a-1', pm_id: 1, pid: 1000, status: 'online', uptime_ms: 5, restart_count: 0, memory_bytes: 1 },
    })
    const agentEvent = (await call('GET', '/api/admin/agents/a-1')).body as Record<string, unknown>
    expect(checker.check({ method: 'GET', path: '/api/admin/agents/a-1', status: 200, body: agentEvent })).toBeNull()
    expect(agentEvent).toMatchObject({ agent_id: 'a-1' })
    expect(checker.checkEvent('/api/admin/events', 'agent', agentEvent)).toBeNull()
    expect(checker.checkEvent('/api/admin/events', 'agent', { ...agentEvent, connected: 'yes' }))
      .toBe('event: agent of /api/admin/events: data/connected must be boolean')
    expect(checker.check({ method: 'GET', path: '/api/nowhere', status: 200, body: {} })).toBe('GET /api/nowhere: not in the document')
  })
})
