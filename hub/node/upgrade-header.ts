/**
 * The `upgrade` header as the Node hub reads it (hub/security/headers.ts asks it of every
 * request): from the headers Node's parser made, which @hono/node-server hands the app as
 * `env.incoming`. Hono's `c.req.header()` reads the same through a wrapper built per request.
 */
import type { HttpBindings } from '@hono/node-server'
import type { Context } from 'hono'

export function nodeUpgradeHeader(c: Context): string | undefined {
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming
  // `app.request` and embedders' servers hand no Node request.
  return incoming ? incoming.headers.upgrade : c.req.header('upgrade')
}
