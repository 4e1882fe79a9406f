/**
 * The Node hub's server response: it adds the security headers (hub/security/headers.ts) to
 * the head it writes, in the one `writeHead` every answer goes through. Set from the app
 * instead (`setHeader` before the answer), Node validated and stored them apart and then moved
 * the answer's own headers into the same store one by one: about 1 µs of the hub's CPU per
 * admin GET (measured: 200 000 answers buffered without a socket).
 */
import { ServerResponse, type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http'
import { WRITES_SECURITY_HEADERS } from '../security/headers.ts'

type HeadHeaders = OutgoingHttpHeaders | OutgoingHttpHeader[]

export class SecurityHeadersResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  /** Tells the app's middleware that these headers are written here. */
  get [WRITES_SECURITY_HEADERS](): true {
    return true
  }

  override writeHead(statusCode: number, reasonOrHeaders?: string | HeadHeaders, headers?: HeadHeaders): this {
    if (typeof reasonOrHeaders === 'string') return super.writeHead(statusCode, reasonOrHeaders, this.secured(headers))
    return super.writeHead(statusCode, this.secured(reasonOrHeaders))
  }

  /**
   * `headers` with no-store (unless the answer set its own caching) and nosniff (in place of any
   * other value): a copy, as a plain object (what @hono/node-server passes) or a raw list; with
   * no headers passed, they are set on the response.
   */
  private secured(headers: HeadHeaders | undefined): HeadHeaders | undefined {
    let ownCaching = this.hasHeader('cache-control')
    if (headers === undefined) {
      if (!ownCaching) this.setHeader('cache-control', 'no-store')
      this.setHeader('x-content-type-options', 'nosniff')
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
}
