/**
 * The roles an admin-audience token carries (CONTRACT.md, "Access"). Each role may do what the
 * one before it may, and more: viewer reads, operator also steers the fleet, admin does all.
 */
import * as v from 'valibot'

export const ACCESS_ROLES = ['viewer', 'operator', 'admin'] as const
export type AccessRole = (typeof ACCESS_ROLES)[number]

export const AccessRoleSchema = v.picklist(ACCESS_ROLES)

/** Who holds a token: 1 to 64 characters, no spaces or quotes, so it reads the same in logs and tables. */
export const TokenName = v.pipe(v.string(), v.regex(/^[A-Za-z0-9._@+-]{1,64}$/, 'name must be 1 to 64 characters of A-Za-z0-9._@+-'))

/** The name of a token minted without one, and of every v2 admin token. */
export const DEFAULT_TOKEN_NAME = 'admin'

export function isAccessRole(x: unknown): x is AccessRole {
  return typeof x === 'string' && (ACCESS_ROLES as readonly string[]).includes(x)
}

/** Whether `role` may use a route that needs `required`. */
export function mayUse(role: AccessRole, required: AccessRole): boolean {
  return ACCESS_ROLES.indexOf(role) >= ACCESS_ROLES.indexOf(required)
}
