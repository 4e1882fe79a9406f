/**
 * The credential routes under /api/admin (behind the admin check in routes.ts): mint an agent
 * token, revoke every token of an agent, revoke one token by jti. A revoke is in force in
 * memory before anything is awaited, and answered 200 only once it is saved.
 */
import { Hono } from 'hono'
import * as v from 'valibot'
import { AgentId, CLOSE, ERROR } from '../../shared/protocol.ts'
import type { Clock } from '../../shared/time.ts'
import type { Logger } from '../../shared/log.ts'
import { MAX_TTL_S, isJti, mintToken } from './auth.ts'
import type { AgentBus } from '../sockets/bus.ts'
import type { RevocationStore } from './revocations.ts'
import { jsonBody, params } from '../api/validate.ts'

const TokenBody = v.optional(
  v.object({ ttl_s: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_TTL_S))) }),
  {},
)
const RevokeTokenBody = v.object({
  jti: v.pipe(v.string(), v.maxLength(128), v.check(isJti, 'jti must be the jti of a token this hub mints')),
})
const AgentParam = v.object({ agent_id: AgentId })

export interface TokenRouteDeps {
  secret: string
  revocations: RevocationStore
  bus: AgentBus
  /** Closes this hub's live connections that identified with the token `jti`. */
  closeToken(jti: string): void
  clock: Clock
  log: Logger
}

export function tokenRoutes({ secret, revocations, bus, closeToken, clock, log }: TokenRouteDeps) {
  const unavailable = { error: ERROR.STORAGE_UNAVAILABLE }
  return new Hono()
    .post('/agents/:agent_id/tokens', params(AgentParam), jsonBody(TokenBody), async (c) => {
      const { agent_id } = c.req.valid('param')
      // Strictly after the agent's last revoke, so a token minted right after it is accepted
      // even within the same millisecond, and even when another hub of a cluster revoked it.
      const cutOff = await revocations.currentRevokedBefore(agent_id)
      const issuedAt = cutOff === null ? clock.now() : Math.max(clock.now(), cutOff + 1)
      const minted = await mintToken(secret, { role: 'agent', sub: agent_id, ttlS: c.req.valid('json').ttl_s }, issuedAt)
      log.info('agent token minted', { agent_id, jti: minted.jti, expires_at: minted.expiresAtMs })
      return c.json({
        agent_id, token: minted.token, jti: minted.jti, issued_at: minted.issuedAtMs, expires_at: minted.expiresAtMs,
      }, 201)
    })
    .post('/agents/:agent_id/revoke', params(AgentParam), async (c) => {
      const { agent_id } = c.req.valid('param')
      const saved = revocations.revokeAgent(agent_id)
      // In force already (revokeAgent applies it before saving): the live connection goes now.
      bus.sendToAgent(agent_id, { type: 'error', error: ERROR.UNAUTHORIZED })
      bus.closeAgent(agent_id, CLOSE.UNAUTHORIZED, 'token revoked')
      let revokedBefore: number
      try {
        revokedBefore = await saved
      } catch (err) {
        log.error('could not save a revocation', { agent_id, error: String(err) })
        return c.json(unavailable, 503)
      }
      log.info('agent tokens revoked', { agent_id, revoked_before: revokedBefore })
      return c.json({ agent_id, revoked_before: revokedBefore }, 200)
    })
    .post('/tokens/revoke', jsonBody(RevokeTokenBody), async (c) => {
      const { jti } = c.req.valid('json')
      const saved = revocations.revokeToken(jti)
      closeToken(jti)
      try {
        await saved
      } catch (err) {
        log.error('could not save a revocation', { jti, error: String(err) })
        return c.json(unavailable, 503)
      }
      log.info('token revoked', { jti })
      return c.json({ jti, revoked: true as const }, 200)
    })
}
