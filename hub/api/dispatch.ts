/**
 * The hub app's `fetch`: Hono's own dispatch, except that a chain of handlers that all answer
 * at once (no handler waits) answers at once too, not through a promise.
 *
 * Hono answers synchronously only when a single handler matches; any middleware (the hub has
 * three in front of every admin GET: hardening, the access gate, the parameter check) sends the
 * request through its async `compose`, one promise per handler. On Node that also sends the
 * answer down @hono/node-server's awaiting path (a close listener per request, one more await)
 * instead of writing it in the same turn. Measured under admin_api_rps: about a fifth of the
 * hub's CPU per GET beyond the bare Hono route, which has a single handler.
 *
 * Same rules as Hono's `compose` (hono/dist/compose.js): a handler's result becomes the answer
 * unless the context was already finalized (an error handler's always does); an error goes to
 * the app's error handler; no matched handler left and nothing answered: the not-found handler.
 * HEAD and single-handler routes are left to Hono itself.
 */
import { Context, type Hono } from 'hono'

type Answer = Response | Promise<Response>
type Handler = (c: Context, next: () => unknown) => unknown

export interface DispatchHandlers {
  notFound(c: Context): Answer
  onError(err: Error, c: Context): Answer
}

export function dispatchAtOnce(app: Hono, h: DispatchHandlers): (request: Request, env?: unknown, executionCtx?: unknown) => Answer {
  const honoFetch = app.fetch
  // No function is made per request beyond the `next` of each step: under tsx (the bench, the
  // tests) every named closure also costs a call to esbuild's __name (3 % of the hub's busy time).
  return (request, env, executionCtx) => {
    if (request.method === 'HEAD') return honoFetch(request, env as never, executionCtx as never)
    const path = app.getPath(request, { env })
    const matchResult = app.router.match(request.method, path)
    const handlers = matchResult[0] as unknown as Run['handlers']
    // Hono's own path for one handler is already synchronous, and has its own not-found rule.
    if (handlers.length === 1) return honoFetch(request, env as never, executionCtx as never)
    const c = new Context(request, { path, matchResult, env, executionCtx: executionCtx as never, notFoundHandler: h.notFound as never })
    const run: Run = { c, handlers, index: -1, h }
    let out: Context | Promise<Context>
    try {
      out = step(run, 0)
      if (!isPromise(out)) return finish(out)
    } catch (err) {
      return failed(run, err)
    }
    return out.then(finish).catch((err: unknown) => failed(run, err))
  }
}

interface Run {
  c: Context
  handlers: readonly (readonly [readonly [Handler, unknown], unknown])[]
  /** The last step taken, as Hono's compose keeps it: `next()` twice is an error. */
  index: number
  h: DispatchHandlers
}

function step(run: Run, i: number): Context | Promise<Context> {
  if (i <= run.index) throw new Error('next() called multiple times')
  run.index = i
  const c = run.c
  const entry = run.handlers[i]
  if (!entry) return c.finalized ? c : settle(run, run.h.notFound(c), false)
  let res: unknown
  try {
    c.req.routeIndex = i
    res = entry[0][0](c, () => step(run, i + 1))
  } catch (err) {
    return handlerFailed(run, err)
  }
  return isPromise(res) ? res.then((r) => settle(run, r, false), (err: unknown) => handlerFailed(run, err)) : settle(run, res, false)
}

function handlerFailed(run: Run, err: unknown): Context | Promise<Context> {
  if (!(err instanceof Error)) throw err
  run.c.error = err
  return settle(run, run.h.onError(err, run.c), true)
}

function settle(run: Run, res: unknown, isError: boolean): Context | Promise<Context> {
  if (isPromise(res)) return res.then((r) => settle(run, r, isError))
  if (res && (run.c.finalized === false || isError)) run.c.res = res as Response
  return run.c
}

function finish(context: Context): Response {
  if (!context.finalized) throw new Error('Context is not finalized. Did you forget to return a Response object or `await next()`?')
  return context.res
}

function failed(run: Run, err: unknown): Answer {
  if (err instanceof Error) return run.h.onError(err, run.c)
  throw err
}

function isPromise<T>(x: unknown): x is Promise<T> {
  return typeof (x as { then?: unknown } | null | undefined)?.then === 'function'
}
