/**
 * The Node hub's access gate reads the Authorization header from the raw list Node's parser made
 * (hub/node/authorization-header.ts); two such headers, or no Node request, go to Hono's lookup.
 */
import { describe, expect, it } from 'vitest'
import type { Context } from 'hono'
import { nodeAuthorizationHeader } from '../../hub/node/authorization-header.ts'

const context = (rawHeaders: string[] | undefined) => ({
  env: rawHeaders ? { incoming: { rawHeaders } } : undefined,
  req: { header: (name: string) => `lookup:${name}` },
}) as unknown as Context

describe('the Node hub\'s Authorization header', () => {
  it('is the raw header, whatever its case, and absent when not sent', () => {
    expect(nodeAuthorizationHeader(context(['Host', 'h', 'AUTHORIZATION', 'Bearer t']))).toBe('Bearer t')
    expect(nodeAuthorizationHeader(context(['Host', 'h', 'x-authorization', 'Bearer t']))).toBeUndefined()
  })

  it('goes to the lookup for two headers or no Node request', () => {
    expect(nodeAuthorizationHeader(context(['authorization', 'Bearer a', 'Authorization', 'Bearer b']))).toBe('lookup:authorization')
    expect(nodeAuthorizationHeader(context(undefined))).toBe('lookup:authorization')
  })
})
