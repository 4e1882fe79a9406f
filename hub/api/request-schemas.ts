/**
 * Which valibot schema a validating middleware checks, kept on the middleware itself, so the
 * OpenAPI document (openapi.ts) reads requests from the app's own route table (`app.routes`)
 * and never from a second list. validate.ts tags each middleware it builds.
 */
import type { GenericSchema } from 'valibot'

export type RequestTarget = 'json' | 'param' | 'query'

export interface RequestSchema {
  target: RequestTarget
  schema: GenericSchema
}

const tags = new WeakMap<object, RequestSchema>()

/** Returns `middleware`, remembered as validating `target` with `schema`. */
export function tagRequestSchema<M extends object>(target: RequestTarget, schema: GenericSchema, middleware: M): M {
  tags.set(middleware, { target, schema })
  return middleware
}

/**
 * The schema a route handler validates with, or null. A sub-app with its own error handler
 * wraps its handlers when mounted (hono's `route()`); the original is kept under this key.
 */
export function requestSchemaOf(handler: unknown): RequestSchema | null {
  if (typeof handler !== 'function') return null
  const original = (handler as { __COMPOSED_HANDLER?: unknown }).__COMPOSED_HANDLER
  return tags.get(handler) ?? (original ? requestSchemaOf(original) : null)
}
