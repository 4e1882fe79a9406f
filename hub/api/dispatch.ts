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
  return (request, env, executionCtx) => {
    if (request.method === 'HEAD') return honoFetch(request, env as never, executionCtx as never)
    const path = app.getPath(request, { env })
    const matchResult = app.router.match(request.method, path)
    const handlers = matchResult[0]
    // Hono's own path for one handler is already synchronous, and has its own not-found rule.
    if (handlers.length === 1) return honoFetch(request, env as never, executionCtx as never)
    const c = new Context(request, { path, matchResult, env, executionCtx: executionCtx as never, notFoundHandler: h.notFound as never })
    const failed = (err: unknown): Answer => {
      if (err instanceof Error) return h.onError(err, c)
      throw err
    }
    let index = -1
    const dispatch = (i: number): Context | Promise<Context> => {
      if (i <= index) throw new Error('next() called multiple times')
      index = i
      const entry = handlers[i]
      if (!entry) return c.finalized ? c : settle(h.notFound(c), false)
      let res: unknown
      try {
        c.req.routeIndex = i
        res = (entry[0][0] as unknown as Handler)(c, () => dispatch(i + 1))
      } catch (err) {
        return handlerFailed(err)
      }
      return isPromise(res) ? res.then((r) => settle(r, false), handlerFailed) : settle(res, false)
    }
    const handlerFailed = (err: unknown): Context | Promise<Context> => {
      if (!(err instanceof Error)) throw err
      c.error = err
      return settle(h.onError(err, c), true)
    }
    const settle = (res: unknown, isError: boolean): Context | Promise<Context> => {
      if (isPromise(res)) return res.then((r) => settle(r, isError))
      if (res && (c.finalized === false || isError)) c.res = res as Response
      return c
    }
    const finish = (context: Context): Response => {
      if (!context.finalized) throw new Error('Context is not finalized. Did you forget to return a Response object or `await next()`?')
      return context.res
    }
    let out: Context | Promise<Context>
    try {
      out = dispatch(0)
      if (!isPromise(out)) return finish(out)
    } catch (err) {
      return failed(err)
    }
    return out.then(finish).catch(failed)
  }
}

function isPromise<T>(x: unknown): x is Promise<T> {
  return typeof (x as { then?: unknown } | null | undefined)?.then === 'function'
}
