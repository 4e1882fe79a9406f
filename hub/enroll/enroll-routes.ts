/**
 * Enrollment (CONTRACT.md, "Install and run"): `POST /api/admin/join-tokens` mints a join token
 * (mounted behind the admin check of routes.ts); `POST /api/enroll` trades one for an agent
 * token. The order at enrollment: the join token (401), the agent id (400), an agent the hub
 * already knows (409), then the id is recorded as enrolled and one use of the token claimed as
 * one durable step (409 when the id was enrolled already or is being enrolled concurrently, 401
 * when the token is used up; either way nothing is spent), and only then is the agent token
 * minted. An enrolled id is known from then on, before its agent first connects, for as long as
 * the hub remembers an offline agent (join-uses.ts).
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono'
import * as v from 'valibot'
import { AgentId, ERROR } from '../../shared/protocol.ts'
import type { Clock } from '../../shared/time.ts'
import type { Logger } from '../../shared/log.ts'
import { mintToken } from '../auth/auth.ts'
import type { RevocationStore } from '../auth/revocations.ts'
import { invalid, jsonBody } from '../api/validate.ts'
import { JOIN_MAX_USES, JOIN_TTL_S, Labels, Prefix, isAllowedId, mintJoinToken, verifyJoinToken, type JoinClaims } from './join-token.ts'
import type { JoinUseStore } from './join-uses.ts'
import { setAuditActor } from '../access/gate.ts'

export const JoinTokenBody = v.optional(v.object({
  ttl_s: v.optional(v.pipe(v.number(), v.integer(), v.minValue(JOIN_TTL_S.min), v.maxValue(JOIN_TTL_S.max))),
  max_uses: v.optional(v.pipe(v.number(), v.integer(), v.minValue(JOIN_MAX_USES.min), v.maxValue(JOIN_MAX_USES.max))),
  labels: v.optional(Labels),
  prefix: v.optional(Prefix),
}), {})

export const EnrollBody = v.object({ agent_id: AgentId })

export interface EnrollDeps {
  secret: string
  revocations: RevocationStore
  joinUses: JoinUseStore
  /** Whether the hub knows the agent, connected or remembered (both modes: AdminBackend.getAgent). */
  isKnownAgent(agentId: string): Promise<boolean>
  /** How long an enrolled id counts as known without its agent connecting: the offline TTL. */
  rememberEnrolledMs: number
  peerOf(c: Context): string | null
  clock: Clock
  log: Logger
  /** Records each enrollment with a valid join token in the audit trail (access/gate.ts's auditedRoute). */
  audited?: MiddlewareHandler
}

/** Under /api/admin, behind its admin check. */
export function joinTokenRoutes({ secret, clock, log }: Pick<EnrollDeps, 'secret' | 'clock' | 'log'>) {
  return new Hono().post('/join-tokens', jsonBody(JoinTokenBody), async (c) => {
    const body = c.req.valid('json')
    const { token, claims } = await mintJoinToken(secret, {
      ttlS: body.ttl_s ?? JOIN_TTL_S.default,
      maxUses: body.max_uses ?? JOIN_MAX_USES.default,
      labels: body.labels ?? [],
      prefix: body.prefix ?? null,
    }, clock.now())
    log.info('join token minted', { jti: claims.jti, expires_at: claims.expiresAtMs, max_uses: claims.maxUses, prefix: claims.prefix })
    return c.json({ token, jti: claims.jti, expires_at: claims.expiresAtMs, max_uses: claims.maxUses }, 201)
  })
}

/** `POST /api/enroll`, mounted at the app's root. */
export function enrollRoutes(d: EnrollDeps) {
  const unauthorized = { error: ERROR.UNAUTHORIZED }
  return new Hono<{ Variables: { joinClaims: JoinClaims } }>().post(
    '/api/enroll',
    d.audited ?? (async (_c, next) => next()),
    async (c, next) => {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')
      const claims = match ? await verifyJoinToken(d.secret, match[1], d.clock.now(), d.revocations) : null
      if (!claims) {
        d.log.warn('enrollment refused', { peer: d.peerOf(c), reason: match ? 'invalid_join_token' : 'missing' })
        return c.json(unauthorized, 401)
      }
      c.set('joinClaims', claims)
      // Audited from here on, whatever the answer: a request with a valid token (CONTRACT.md, "Audit").
      setAuditActor(c, { join_jti: claims.jti })
      await next()
    },
    jsonBody(EnrollBody),
    async (c) => {
      const claims = c.get('joinClaims')
      const { agent_id } = c.req.valid('json')
      if (!isAllowedId(claims, agent_id)) {
        return c.json(invalid([{ path: 'agent_id', message: `the join token enrolls only agent ids that start with ${JSON.stringify(claims.prefix)}` }]), 400)
      }
      if (await d.isKnownAgent(agent_id)) return c.json({ error: 'agent_exists' }, 409)
      const outcome = await d.joinUses.enroll({
        agentId: agent_id, jti: claims.jti, maxUses: claims.maxUses, expiresAtMs: claims.expiresAtMs, rememberMs: d.rememberEnrolledMs,
      })
      if (outcome === 'agent_exists') return c.json({ error: 'agent_exists' }, 409)
      if (outcome === 'used_up') {
        d.log.warn('enrollment refused', { peer: d.peerOf(c), reason: 'used_up', join_jti: claims.jti })
        return c.json(unauthorized, 401)
      }
      // Strictly after the agent's last revoke, as the admin token route mints (token-routes.ts).
      const cutOff = await d.revocations.currentRevokedBefore(agent_id)
      const now = d.clock.now()
      const minted = await mintToken(d.secret, { role: 'agent', sub: agent_id }, cutOff === null ? now : Math.max(now, cutOff + 1))
      d.log.info('agent enrolled', { agent_id, jti: minted.jti, join_jti: claims.jti, peer: d.peerOf(c) })
      return c.json({ agent_id, token: minted.token, jti: minted.jti, labels: claims.labels }, 201)
    },
  )
}
