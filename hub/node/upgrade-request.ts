/**
 * The Request that the Hono app routes for a WebSocket upgrade on Node. Routing an upgrade reads
 * the method, the URL and a few headers, nothing more; undici's Request would also build an
 * AbortSignal each time, which outlives the upgrade until a major GC (profiled in a 10 000-agent
 * identify storm: about 0.7 KB of old-space garbage per agent, and 4 % of the hub's CPU). So this
 * one holds the three, and builds undici's Request only if something asks for anything else (a
 * body, a signal, clone()), forwarding to it from then on. It is still `instanceof Request`.
 * Its headers are built on first use too: the hub routes an upgrade on Node by the headers Node's
 * parser made (`env.incoming`), so a web Headers per upgrade was made for nothing (about 4 % of
 * the hub's time in an identify storm, profiled). Node's parser has already refused any header
 * name or value that Headers would refuse (both follow RFC 9110's token and field-value rules).
 */
import type { IncomingMessage } from 'node:http'

/** Own fields; everything else a Request has is forwarded to a whole one, built on first use. */
class UpgradeRequest {
  #whole: Request | null = null
  #headers: Headers | null = null

  constructor(readonly method: string, readonly url: string, private readonly rawHeaders: readonly string[]) {}

  get headers(): Headers {
    if (this.#headers) return this.#headers
    const headers = new Headers()
    const raw = this.rawHeaders
    for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i], raw[i + 1])
    this.#headers = headers
    return headers
  }

  whole(): Request {
    this.#whole ??= new Request(this.url, { method: this.method, headers: this.headers })
    return this.#whole
  }
}

const OWN = new Set(['constructor', 'method', 'url', 'headers'])
for (const [name, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(Request.prototype))) {
  if (OWN.has(name)) continue
  if (descriptor.get) {
    Object.defineProperty(UpgradeRequest.prototype, name, {
      get(this: UpgradeRequest) {
        return (this.whole() as unknown as Record<string, unknown>)[name]
      },
    })
  } else if (typeof descriptor.value === 'function') {
    Object.defineProperty(UpgradeRequest.prototype, name, {
      value(this: UpgradeRequest, ...args: unknown[]) {
        const whole = this.whole() as unknown as Record<string, (...a: unknown[]) => unknown>
        return whole[name](...args)
      },
    })
  }
}
Object.setPrototypeOf(UpgradeRequest.prototype, Request.prototype)

/** The upgrade request for the app's routing and middleware; null when it is malformed. */
export function upgradeRequest(incoming: IncomingMessage): Request | null {
  const target = incoming.url ?? '/'
  // Origin-form ("/ws?x") joins the Host header as text, so "//other/ws" stays a path.
  const href = normalizedHref(target.startsWith('/') ? `http://${incoming.headers.host ?? 'localhost'}${target}` : target)
  return href === null ? null : new UpgradeRequest(incoming.method ?? 'GET', href, incoming.rawHeaders) as unknown as Request
}

/**
 * The URL as undici's Request would normalize it (dot segments, case of the host, default port),
 * or null when it is no URL. The last answer is kept: a fleet's agents all upgrade at the same
 * host and path, and parsing it again was 1.5 % of the hub's time in an identify storm.
 */
let lastUrl = ''
let lastHref: string | null = null
function normalizedHref(url: string): string | null {
  if (url === lastUrl) return lastHref
  let href: string | null
  try {
    href = new URL(url).href
  } catch {
    href = null
  }
  lastUrl = url
  lastHref = href
  return href
}
