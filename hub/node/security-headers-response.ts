/**
 * The Node hub's server response: it adds the security headers (hub/security/headers.ts) to
 * the head it writes, in the one `writeHead` every answer goes through. Set from the app
 * instead (`setHeader` before the answer), Node validated and stored them apart and then moved
 * the answer's own headers into the same store one by one: about 1 µs of the hub's CPU per
 * admin GET (measured: 200 000 answers buffered without a socket).
 *
 * A constructor function whose prototype inherits ServerResponse's, as Node's own response
 * classes are made, not a `class … extends ServerResponse`: V8 (Node 20) abandoned its compile
 * of the derived class's constructor on a "dependency change" again and again for as long as
 * the hub ran (190 attempts in 100 000 answers), and with it that of Node's `parserOnIncoming`,
 * which makes every response (tens of ms of compiler time each attempt). Both then ran
 * unoptimized on every request while the compiler threads kept trying (`--trace-opt`; about a
 * tenth of the hub's CPU per admin GET under admin_api_rps, profiled).
 */
import { ServerResponse, type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http'
import { WRITES_SECURITY_HEADERS } from '../security/headers.ts'

type HeadHeaders = OutgoingHttpHeaders | OutgoingHttpHeader[]

/** ServerResponse as what it is in Node 20: a function a constructor may call on its `this`. */
const initResponse = ServerResponse as unknown as (this: ServerResponse, req: IncomingMessage, options?: object) => void
const writeHead = ServerResponse.prototype.writeHead as (this: ServerResponse, statusCode: number, ...rest: unknown[]) => ServerResponse

/**
 * Node's response with the security headers written with its head; pass it as
 * `http.createServer`'s `ServerResponse`. Should a later Node make ServerResponse a class (it
 * cannot be called then), a derived class, as before.
 */
export const SecurityHeadersResponse = /^class\b/.test(Function.prototype.toString.call(ServerResponse))
  ? class SecurityHeadersResponse extends ServerResponse {} as typeof ServerResponse
  : responseFunction()

function responseFunction(): typeof ServerResponse {
  const made = function SecurityHeadersResponse(this: ServerResponse, req: IncomingMessage, options?: object) {
    initResponse.call(this, req, options)
  } as unknown as typeof ServerResponse
  Object.setPrototypeOf(made, ServerResponse)
  Object.setPrototypeOf(made.prototype, ServerResponse.prototype)
  Object.defineProperty(made.prototype, 'constructor', { value: made, writable: true, configurable: true })
  return made
}

Object.defineProperties(SecurityHeadersResponse.prototype, {
  /** Tells the app's middleware that these headers are written here. */
  [WRITES_SECURITY_HEADERS]: { get: () => true, configurable: true },
  writeHead: {
    value: function (this: ServerResponse, statusCode: number, reasonOrHeaders?: string | HeadHeaders, headers?: HeadHeaders) {
      if (typeof reasonOrHeaders === 'string') return writeHead.call(this, statusCode, reasonOrHeaders, secured(this, headers))
      return writeHead.call(this, statusCode, secured(this, reasonOrHeaders))
    },
    writable: true, configurable: true,
  },
})

/**
 * `headers` with no-store (unless the answer set its own caching) and nosniff (in place of any
 * other value): a copy, as a plain object (what @hono/node-server passes) or a raw list; with
 * no headers passed, they are set on the response.
 */
function secured(res: ServerResponse, headers: HeadHeaders | undefined): HeadHeaders | undefined {
  let ownCaching = res.hasHeader('cache-control')
  if (headers === undefined) {
    if (!ownCaching) res.setHeader('cache-control', 'no-store')
    res.setHeader('x-content-type-options', 'nosniff')
    return undefined
  }
  if (Array.isArray(headers)) {
    const secured: OutgoingHttpHeader[] = []
    for (let i = 0; i < headers.length; i += 2) {
      const lower = String(headers[i]).toLowerCase()
      if (lower === 'x-content-type-options') continue
      if (lower === 'cache-control') ownCaching = true
      secured.push(headers[i], headers[i + 1])
    }
    if (!ownCaching) secured.push('cache-control', 'no-store')
    secured.push('x-content-type-options', 'nosniff')
    return secured
  }
  const secured: OutgoingHttpHeaders = {}
  for (const name in headers) {
    const lower = name.toLowerCase()
    if (lower === 'x-content-type-options') continue
    if (lower === 'cache-control') ownCaching = true
    secured[name] = headers[name]
  }
  if (!ownCaching) secured['cache-control'] = 'no-store'
  secured['x-content-type-options'] = 'nosniff'
  return secured
}
