/**
 * The admin API's body limit (AGENTCOM_MAX_BODY_BYTES): Hono's `bodyLimit`, with the check it
 * makes first done without touching `c.req.raw.body`. A request that declares its length
 * (Content-Length, no Transfer-Encoding) is judged on that header alone, as Hono's judges it;
 * the runtime reads exactly that many bytes. Only then is the body left alone: on Node,
 * `c.req.raw.body` builds a whole web Request around the socket (@hono/node-server), and the
 * handler's `c.req.text()` then reads through its stream instead of straight from the socket
 * (profiled: 14 % of the hub's CPU under the task_throughput load). Any other request (chunked,
 * or no length) goes to Hono's, which counts the bytes as they come.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'

export function limitBodies(maxSize: number, onError: (c: Context) => Response | Promise<Response>): MiddlewareHandler {
  const counted = bodyLimit({ maxSize, onError })
  return async (c, next) => {
    const length = c.req.header('content-length')
    if (length === undefined || c.req.header('transfer-encoding') !== undefined) return counted(c, next)
    if (parseInt(length, 10) > maxSize) return onError(c)
    await next()
  }
}
