/**
 * The access routes under /api/admin (behind the gate, which has checked the role each needs):
 * `POST /tokens` mints a named admin-audience token with a role, `GET /audit` pages through
 * the audit trail, `GET /whoami` tells the dashboard who is signed in and what it may use.
 */
import { Hono } from 'hono'
import * as v from 'valibot'
import type { Logger } from '../../shared/log.ts'
import type { Clock } from '../../shared/time.ts'
import { MAX_TTL_S, DEFAULT_ADMIN_TTL_S, mintToken } from '../auth/auth.ts'
import { jsonBody, query } from '../api/validate.ts'
import type { AuditTrail } from './audit.ts'
import { claimsOf } from './gate.ts'
import { AccessRoleSchema, TokenName, mayUse } from './roles.ts'
import { routesFor } from './route-roles.ts'

const MintBody = v.object({
  role: AccessRoleSchema,
  name: TokenName,
  ttl_s: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_TTL_S))),
})

const Text = v.pipe(v.string(), v.minLength(1), v.maxLength(200))
const AuditQuery = v.object({
  actor: v.optional(Text),
  action: v.optional(Text),
  target: v.optional(Text),
  limit: v.optional(v.pipe(v.string(), v.regex(/^\d{1,4}$/), v.transform(Number), v.minValue(1), v.maxValue(1000)), '100'),
  cursor: v.optional(v.pipe(v.string(), v.regex(/^[1-9]\d{0,17}$/, 'cursor must be a next_cursor this route answered'))),
})

export interface AccessRouteDeps {
  secret: string
  audit: AuditTrail
  clock: Clock
  log: Logger
}

export function accessRoutes({ secret, audit, clock, log }: AccessRouteDeps) {
  return new Hono()
    .get('/whoami', (c) => {
      const claims = claimsOf(c)
      return c.json({
        name: claims.name, role: claims.access, jti: claims.jti, expires_at: claims.expiresAtMs,
        // The route table's keys this role may use: the dashboard offers nothing else.
        routes: routesFor((required) => mayUse(claims.access, required)),
      }, 200)
    })
    .post('/tokens', jsonBody(MintBody), async (c) => {
      const body = c.req.valid('json')
      const minted = await mintToken(secret, { role: 'admin', access: body.role, name: body.name, ttlS: body.ttl_s ?? DEFAULT_ADMIN_TTL_S }, clock.now())
      log.info('admin token minted', { role: body.role, name: body.name, jti: minted.jti, expires_at: minted.expiresAtMs, by: claimsOf(c).name })
      return c.json({ token: minted.token, jti: minted.jti, role: body.role, name: body.name, expires_at: minted.expiresAtMs }, 201)
    })
    .get('/audit', query(AuditQuery), async (c) => {
      const q = c.req.valid('query')
      const page = await audit.list({ actor: q.actor, action: q.action, target: q.target }, q.cursor ?? null, q.limit)
      return c.json(page, 200)
    })
}
