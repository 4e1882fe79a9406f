/**
 * The Authorization header as the Node hub's access gate reads it (hub/access/gate.ts asks it of
 * every admin request): from the raw header list Node's parser made, which @hono/node-server
 * hands the app as `env.incoming`. Hono's lookup walks the same list and then tests the
 * 300-character token for characters Node's parser never lets into a header value (about 0.5 µs
 * of an 8 µs admin GET, profiled). Two Authorization headers go to that lookup, which joins them
 * (and the gate refuses the join), so both ways answer alike. Node strips a value's surrounding
 * whitespace.
 */
import type { HttpBindings } from '@hono/node-server'
import type { Context } from 'hono'

export function nodeAuthorizationHeader(c: Context): string | undefined {
  const raw = (c.env as Partial<HttpBindings> | undefined)?.incoming?.rawHeaders
  // `app.request` and embedders' servers hand no Node request.
  if (!Array.isArray(raw)) return c.req.header('authorization')
  let value: string | undefined
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]
    if (name.length !== 13 || name.toLowerCase() !== 'authorization') continue
    if (value !== undefined) return c.req.header('authorization')
    value = raw[i + 1]
  }
  return value
}
