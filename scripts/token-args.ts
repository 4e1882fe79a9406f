/**
 * The token command's arguments (`token admin [--role <r>] [--name <n>] [--ttl <d>]`, `token
 * agent <agent_id> [--ttl <d>]`) as a mint request, apart from the script so the `agentcom
 * token` verb can use the same parser.
 */
import * as v from 'valibot'
import { MAX_TTL_S, type MintRequest } from '../hub/auth.ts'
import { AccessRoleSchema, TokenName } from '../hub/access/roles.ts'
import { AgentId } from '../shared/protocol.ts'

export const TOKEN_USAGE = [
  'usage: npm run --silent token -- admin [--role viewer|operator|admin] [--name <name>] [--ttl <d>]',
  '       npm run --silent token -- agent <agent_id> [--ttl <d>]',
  '  --role: what the token may do (default admin); --name: who holds it (default admin)',
  '  --ttl: <n>s, <n>m, <n>h or <n>d, at most 365d (admin tokens: 24h by default; agent tokens: no expiry by default)',
].join('\n')

const UNIT_S = { s: 1, m: 60, h: 3600, d: 86_400 } as const

/** `90s`, `15m`, `12h`, `30d` in seconds; null for anything else or more than 365 days. */
export function parseTtl(text: string): number | null {
  const match = /^([1-9]\d{0,8})([smhd])$/.exec(text)
  if (!match) return null
  const seconds = Number(match[1]) * UNIT_S[match[2] as keyof typeof UNIT_S]
  return seconds <= MAX_TTL_S ? seconds : null
}

/** The request the arguments ask for, or a message saying what is wrong with them. */
export function parseTokenArgs(args: readonly string[]): MintRequest | string {
  const rest = [...args]
  const options: Record<string, string> = {}
  for (const flag of ['--ttl', '--role', '--name']) {
    const at = rest.indexOf(flag)
    if (at === -1) continue
    const value = rest[at + 1]
    if (value === undefined || value.startsWith('--')) return `${flag} needs a value`
    options[flag] = value
    rest.splice(at, 2)
  }
  let ttlS: number | undefined
  if (options['--ttl'] !== undefined) {
    const parsed = parseTtl(options['--ttl'])
    if (parsed === null) return `--ttl must be <n>s, <n>m, <n>h or <n>d, at most 365d`
    ttlS = parsed
  }
  const [role, agentId, ...extra] = rest
  if (extra.length > 0 || rest.some((a) => a.startsWith('-'))) return 'unexpected arguments'
  if (role === 'admin' && agentId === undefined) {
    const access = options['--role'] ?? 'admin'
    if (!v.is(AccessRoleSchema, access)) return '--role must be viewer, operator or admin'
    const name = options['--name'] ?? 'admin'
    if (!v.is(TokenName, name)) return '--name must be 1 to 64 characters of A-Za-z0-9._@+-'
    return { role: 'admin', ttlS, access, name }
  }
  if (options['--role'] !== undefined || options['--name'] !== undefined) return '--role and --name are for admin tokens'
  if (role === 'agent' && agentId !== undefined) {
    if (!v.is(AgentId, agentId)) return 'invalid agent id: 1 to 64 characters of A-Za-z0-9._-'
    return { role: 'agent', sub: agentId, ttlS }
  }
  return 'say admin, or agent and an agent id'
}
