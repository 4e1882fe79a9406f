/**
 * `GET /api/openapi.json`: an OpenAPI 3.1 document of every route under /api/, built from the
 * app's own route table (`app.routes`), so a route is in it the moment it is registered.
 * Requests come from the valibot schemas the routes validate with (request-schemas.ts), answers
 * from route-docs.ts; both through @valibot/to-json-schema (JSON Schema 2020-12, which OpenAPI
 * 3.1 uses as is). A route with no line in route-docs.ts gets a generic JSON answer.
 */
import { routeRole } from '../access/route-roles.ts'
import type { Context } from 'hono'
import type { GenericSchema } from 'valibot'
import { toJsonSchema, toJsonSchemaDefs, type ConversionConfig, type JsonSchema } from '@valibot/to-json-schema'
import { NAMED_SCHEMAS } from '../../shared/api-schemas.ts'
import { requestSchemaOf, type RequestSchema } from './request-schemas.ts'
import { ROUTE_DOCS, type RouteDoc } from './route-docs.ts'

/** What hono's `app.routes` holds: one entry per handler or middleware of each route. */
export interface RegisteredRoute {
  method: string
  path: string
  handler: unknown
}

/** The contract the document describes (CONTRACT.md v3), not the package's version. */
export const API_VERSION = '3'

const COMPONENT_REF = (name: string) => `#/components/schemas/${name}`
const COMMON = {
  target: 'draft-2020-12',
  // Checks with no JSON Schema equivalent (v.check) are the hub's to enforce, not the document's.
  errorMode: 'ignore',
  overrideRef: ({ referenceId }) => COMPONENT_REF(referenceId),
} satisfies Omit<ConversionConfig, 'definitions'>
const BASE: ConversionConfig = { ...COMMON, definitions: NAMED_SCHEMAS }
const namesBySchema = new Map<unknown, string>(Object.entries(NAMED_SCHEMAS).map(([name, schema]) => [schema, name]))

/** The endpoints under /api/ (middleware, `*` paths and `ALL`, left out), each with its handlers. */
export function apiEndpoints(routes: readonly RegisteredRoute[]): Map<string, { method: string; path: string; handlers: unknown[] }> {
  const endpoints = new Map<string, { method: string; path: string; handlers: unknown[] }>()
  for (const r of routes) {
    if (!r.path.startsWith('/api/') || r.path.includes('*') || r.method === 'ALL') continue
    const key = `${r.method} ${r.path}`
    const endpoint = endpoints.get(key) ?? { method: r.method, path: r.path, handlers: [] }
    endpoint.handlers.push(r.handler)
    endpoints.set(key, endpoint)
  }
  return endpoints
}

export function buildOpenApiDocument(routes: readonly RegisteredRoute[], docs: Record<string, RouteDoc> = ROUTE_DOCS) {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const [key, endpoint] of apiEndpoints(routes)) {
    const requests = endpoint.handlers.map(requestSchemaOf).filter((r): r is RequestSchema => r !== null)
    const path = endpoint.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
    paths[path] ??= {}
    paths[path][endpoint.method.toLowerCase()] = operation(endpoint, requests, docs[key])
  }
  const schemas = toJsonSchemaDefs(NAMED_SCHEMAS, { ...COMMON, typeMode: 'output' }) as Record<string, JsonSchema>
  return {
    openapi: '3.1.0',
    info: {
      title: 'AgentCom hub API',
      version: API_VERSION,
      description: 'Every route under /api/ of an AgentCom hub. Error answers are `{"error": <code>, ...}`.',
    },
    // By path, so the document reads the same whatever order the routes were registered in.
    paths: Object.fromEntries(Object.entries(paths).sort(([x], [y]) => x.localeCompare(y))),
    components: {
      schemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
    security: [{ bearer: [] }],
  }
}

/** The route handler for the document: built once, on first request, when every route is in. */
export function openApiHandler(routes: () => readonly RegisteredRoute[]) {
  let body: string | null = null
  return (c: Context) => {
    body ??= JSON.stringify(buildOpenApiDocument(routes()))
    return c.body(body, 200, { 'content-type': 'application/json; charset=utf-8' })
  }
}

function operation(endpoint: { method: string; path: string }, requests: RequestSchema[], doc: RouteDoc | undefined) {
  const parameters: unknown[] = []
  let requestBody: unknown
  for (const { target, schema } of requests) {
    if (target === 'json') {
      requestBody = { required: schema.type !== 'optional', content: { 'application/json': { schema: convert(schema, 'input') } } }
      continue
    }
    const object = convert(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] }
    for (const [name, property] of Object.entries(object.properties ?? {})) {
      parameters.push({ name, in: target === 'param' ? 'path' : 'query', required: target === 'param' || !!object.required?.includes(name), schema: property })
    }
  }
  // Path parameters no validator names are still parameters.
  for (const [, name] of endpoint.path.matchAll(/:([A-Za-z0-9_]+)/g)) {
    if (!parameters.some((p) => (p as { name: string }).name === name)) parameters.push({ name, in: 'path', required: true, schema: { type: 'string' } })
  }
  const responses: Record<string, unknown> = {}
  for (const [status, answer] of Object.entries(doc?.responses ?? { '2XX': null })) {
    responses[status] = answer === null
      ? { description: 'JSON (no schema declared for this route yet)', content: { 'application/json': { schema: {} } } }
      : 'eventStream' in answer
        ? {
            description: answer.eventStream,
            content: {
              ...(answer.json ? { 'application/json': { schema: convert(answer.json, 'output') } } : {}),
              'text/event-stream': { schema: { type: 'string' } },
            },
            ...(answer.events ? { 'x-events': Object.fromEntries(Object.entries(answer.events).map(([name, schema]) => [name, convert(schema, 'output')])) } : {}),
          }
        : { description: describeStatus(Number(status)), content: { 'application/json': { schema: convert(answer, 'output') } } }
  }
  if (requests.length > 0) responses['400'] ??= jsonAnswer('invalid request', COMPONENT_REF('InvalidRequest'))
  if (!doc?.public) responses['401'] ??= jsonAnswer('missing, invalid, expired or revoked token', COMPONENT_REF('ErrorBody'))
  responses.default = jsonAnswer('an error', COMPONENT_REF('ErrorBody'))
  // The role the route needs, from the one route table the gate reads (hub/access/route-roles.ts).
  const access = routeRole(endpoint.method, endpoint.path)
  if (access && !access.ownCredential) responses['403'] ??= jsonAnswer(`the token's role is below ${access.role}`, COMPONENT_REF('ErrorBody'))
  return {
    operationId: doc?.operationId ?? defaultOperationId(endpoint),
    ...(doc ? { summary: doc.summary } : {}),
    ...(doc?.public ? { security: [] } : {}),
    ...(access && !access.ownCredential ? { 'x-required-role': access.role } : {}),
    ...(parameters.length ? { parameters } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses,
  }
}

function convert(schema: GenericSchema, typeMode: 'input' | 'output'): JsonSchema {
  const name = namesBySchema.get(schema)
  if (name) return { $ref: COMPONENT_REF(name) }
  const json = toJsonSchema(schema, { ...BASE, typeMode }) as JsonSchema & { $schema?: string; $defs?: unknown }
  delete json.$schema
  delete json.$defs
  return json
}

const jsonAnswer = (description: string, ref: string) => ({ description, content: { 'application/json': { schema: { $ref: ref } } } })

function describeStatus(status: number): string {
  return ({ 200: 'OK', 201: 'created', 404: 'not found', 409: 'conflict', 503: 'unavailable' } as Record<number, string>)[status] ?? String(status)
}

function defaultOperationId({ method, path }: { method: string; path: string }): string {
  return `${method.toLowerCase()}${path.replace(/^\/api/, '').replace(/[^A-Za-z0-9]+(.)?/g, (_, ch: string | undefined) => (ch ?? '').toUpperCase())}`
}
