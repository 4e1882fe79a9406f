/**
 * Request validation with valibot. The body is read as JSON whatever its Content-Type, so
 * `curl -d '{...}'` (form content type by default) means what the operator typed.
 */
import type { Context, MiddlewareHandler, ValidationTargets } from 'hono'
import * as v from 'valibot'
import { ERROR } from '../../shared/protocol.ts'
import { tagRequestSchema } from './request-schemas.ts'
import { mayHoldUnstorable, unstorablePath } from '../tasks/outcome-text.ts'

type Issue = { path: string; message: string }

/** valibot's messages quote the received value: an answer never carries more than this of it. */
const MAX_MESSAGE = 200

export function formatIssues(issues: readonly v.BaseIssue<unknown>[]): Issue[] {
  return issues.slice(0, 20).map((i) => ({
    path: (i.path?.map((p) => String(p.key)).join('.') ?? '').slice(0, MAX_MESSAGE),
    message: i.message.length > MAX_MESSAGE ? `${i.message.slice(0, MAX_MESSAGE)}…` : i.message,
  }))
}

export const invalid = (issues: Issue[]) => ({ error: ERROR.INVALID_REQUEST, issues })

/**
 * PostgreSQL's text can hold neither U+0000 nor a lone surrogate, so neither store accepts them
 * in a request's text (a reason, an id, a label): both answer 400 alike, and whatever is accepted
 * reads back exactly as sent (outcome-text.ts). Not in a field of any JSON (`anyJson`, a task's
 * input): both stores keep that as JSON text, where such characters are escapes like any other.
 */
function unstorable(value: unknown): Issue[] | null {
  const path = unstorablePath(value)
  return path === null ? null : [{ path: path.join('.').slice(0, MAX_MESSAGE), message: UNSTORABLE_MESSAGE }]
}

const UNSTORABLE_MESSAGE = 'text the hub cannot store: U+0000 or a lone surrogate'

/** The same for path parameters: strings under the route's own names, so only the values are looked at. */
function unstorableParam(params: Record<string, string>): Issue[] | null {
  for (const key in params) if (unstorablePath(params[key]) !== null) return [{ path: key.slice(0, MAX_MESSAGE), message: UNSTORABLE_MESSAGE }]
  return null
}

/**
 * The issues that refuse `value` (first `refused`, the unstorable text found in it, then the
 * schema's), or null once its validated output is stored as `target`'s data.
 */
function validate(c: Context, target: keyof ValidationTargets, schema: v.GenericSchema, value: unknown, refused: Issue[] | null): Issue[] | null {
  if (refused) return refused
  const result = v.safeParse(schema, value)
  if (!result.success) return formatIssues(result.issues)
  c.req.addValidatedData(target, result.output as never)
  return null
}

export interface JsonBodyOptions {
  /** Top-level fields that hold any JSON (a task's `input`): not checked for unstorable text. */
  anyJson?: readonly string[]
}

/** `raw` without its `anyJson` fields, for the unstorable-text check. */
function withoutAnyJson(raw: unknown, anyJson: readonly string[] | undefined): unknown {
  if (!anyJson || raw === null || typeof raw !== 'object') return raw
  const rest = { ...raw as Record<string, unknown> }
  for (const key of anyJson) delete rest[key]
  return rest
}

/** Validates the JSON body; an empty body validates as `undefined`. */
export function jsonBody<S extends v.GenericSchema>(
  schema: S,
  options: JsonBodyOptions = {},
): MiddlewareHandler<any, string, {
  in: { json: v.InferInput<S> }
  out: { json: v.InferOutput<S> }
}> {
  return tagRequestSchema('json', schema, async (c, next) => {
    const text = await c.req.text()
    let raw: unknown
    if (text.trim() !== '') {
      try {
        raw = JSON.parse(text)
      } catch {
        return c.json(invalid([{ path: '', message: 'body is not valid JSON' }]), 400)
      }
    }
    // Every body is an object; valibot's object() would take an array as one.
    if (Array.isArray(raw)) return c.json(invalid([{ path: '', message: 'body must be a JSON object' }]), 400)
    const issues = validate(c, 'json', schema, raw, mayHoldUnstorable(text) ? unstorable(withoutAnyJson(raw, options.anyJson)) : null)
    if (issues) return c.json(invalid(issues), 400)
    await next()
  })
}

/** Validates path parameters. */
export function params<S extends v.GenericSchema<Record<string, string>>>(
  schema: S,
): MiddlewareHandler<any, string, {
  in: { param: v.InferInput<S> }
  out: { param: v.InferOutput<S> }
}> {
  // The last valid parameters and their output: a client reading one agent sends the same again,
  // and the same strings validate the same (the schema is pure). Only valid ones are kept.
  let lastValue: Record<string, string> | null = null
  let lastOutput: unknown
  // Not async: on a valid request the handler's own promise is returned, one step fewer per request.
  return tagRequestSchema('param', schema, (c, next) => {
    const value = c.req.param()
    if (lastValue !== null && sameParams(value, lastValue)) {
      c.req.addValidatedData('param', lastOutput as never)
      return next()
    }
    const issues = validate(c, 'param', schema, value, unstorableParam(value))
    if (issues) return Promise.resolve(c.json(invalid(issues), 400))
    lastValue = value
    lastOutput = c.req.valid('param' as never)
    return next()
  })
}

/** Whether two routes' decoded parameters are the same names with the same values. */
function sameParams(a: Record<string, string>, b: Record<string, string>): boolean {
  let count = 0
  for (const key in a) {
    if (a[key] !== b[key]) return false
    count++
  }
  for (const _key in b) count--
  return count === 0
}

/** Validates the query string (each key's first value). */
export function query<S extends v.GenericSchema>(
  schema: S,
): MiddlewareHandler<any, string, {
  in: { query?: Record<string, string> }
  out: { query: v.InferOutput<S> }
}> {
  return tagRequestSchema('query', schema, async (c, next) => {
    const value = c.req.query()
    const issues = validate(c, 'query', schema, value, unstorable(value))
    if (issues) return c.json(invalid(issues), 400)
    await next()
  })
}
