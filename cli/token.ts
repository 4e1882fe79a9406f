/**
 * `agentcom token admin|agent|join ...` (and `npm run --silent token -- ...`): prints one signed
 * token and nothing else. Uses AGENTCOM_SECRET, else the data dir's hub-secret (created if
 * missing), like the hub: it runs on the hub's machine.
 */
import * as v from 'valibot'
import { MAX_TTL_S, mintToken, type MintRequest } from '../hub/auth/auth.ts'
import { resolveHubConfig } from '../hub/config/config.ts'
import { ensureSecret } from '../hub/auth/secret.ts'
import { nodeSecretFiles } from '../hub/node/platform.ts'
import { JOIN_MAX_USES, JOIN_TTL_S, Labels, Prefix, mintJoinToken, type JoinRequest } from '../hub/enroll/join-token.ts'
import { AccessRoleSchema, TokenName } from '../hub/access/roles.ts'
import { AgentId } from '../shared/protocol.ts'
import { ConfigError } from '../shared/settings.ts'
import { UsageError, parseDuration, parseList, parseVerbArgs, type CliIo } from './args.ts'

export const usage = [
  'usage: agentcom token admin [--role viewer|operator|admin] [--name <name>] [--ttl <d>]',
  '       agentcom token agent <agent_id> [--ttl <d>]',
  '       agentcom token join [--ttl <d>] [--max-uses <n>] [--labels <l,...>] [--prefix <p>]',
  '  --ttl: <n>s, <n>m, <n>h or <n>d. Admin: 24h by default, at most 365d. Agent: no expiry by',
  '  default, at most 365d. Join: 1h by default, 1m to 30d.',
  '  --role: what an admin token may do (default admin); --name: who holds it (default admin).',
  '  --max-uses: how many agents the join token may enroll, 1 to 10000 (default 1).',
  '  --labels: added to the labels of every agent it enrolls. --prefix: its agent ids must start so.',
].join('\n')

export type TokenRequest = MintRequest | ({ role: 'join' } & JoinRequest)

/** The token the arguments ask for; a UsageError says what is wrong with them. */
export function parseTokenArgs(args: string[]): TokenRequest {
  const { values, positionals } = parseVerbArgs(args, {
    ttl: { type: 'string' },
    'max-uses': { type: 'string' },
    labels: { type: 'string' },
    prefix: { type: 'string' },
    role: { type: 'string' },
    name: { type: 'string' },
  })
  const [role, ...rest] = positionals
  const joinOnly = (['max-uses', 'labels', 'prefix'] as const).filter((name) => values[name] !== undefined)
  if (role !== 'join' && joinOnly.length > 0) throw new UsageError(`--${joinOnly[0]} is for join tokens only`)
  const ttl = (maxS: number, minS = 1) => {
    if (values.ttl === undefined) return undefined
    const seconds = parseDuration(values.ttl, maxS)
    if (seconds === null || seconds < minS) throw new UsageError(`--ttl must be <n>s, <n>m, <n>h or <n>d, from ${minS}s to ${maxS / 86_400}d`)
    return seconds
  }
  if (role !== 'admin' && (values.role !== undefined || values.name !== undefined)) throw new UsageError('--role and --name are for admin tokens')
  if (role === 'admin' && rest.length === 0) {
    const access = values.role ?? 'admin'
    if (!v.is(AccessRoleSchema, access)) throw new UsageError('--role must be viewer, operator or admin')
    const name = values.name ?? 'admin'
    if (!v.is(TokenName, name)) throw new UsageError('--name must be 1 to 64 characters of A-Za-z0-9._@+-')
    return { role: 'admin', ttlS: ttl(MAX_TTL_S), access, name }
  }
  if (role === 'agent' && rest.length === 1) {
    if (!v.is(AgentId, rest[0])) throw new UsageError('invalid agent id: 1 to 64 characters of A-Za-z0-9._-')
    return { role: 'agent', sub: rest[0], ttlS: ttl(MAX_TTL_S) }
  }
  if (role === 'join' && rest.length === 0) {
    const maxUses = values['max-uses'] === undefined ? JOIN_MAX_USES.default : Number(values['max-uses'])
    if (!Number.isInteger(maxUses) || maxUses < JOIN_MAX_USES.min || maxUses > JOIN_MAX_USES.max) {
      throw new UsageError(`--max-uses must be a whole number from ${JOIN_MAX_USES.min} to ${JOIN_MAX_USES.max}`)
    }
    const labels = parseList(values.labels)
    const checked = v.safeParse(Labels, labels)
    if (!checked.success) throw new UsageError(`--labels: ${checked.issues[0].message}`)
    if (values.prefix !== undefined && !v.is(Prefix, values.prefix)) throw new UsageError('--prefix must be 1 to 63 characters of A-Za-z0-9._-')
    return { role: 'join', ttlS: ttl(JOIN_TTL_S.max, JOIN_TTL_S.min) ?? JOIN_TTL_S.default, maxUses, labels, prefix: values.prefix ?? null }
  }
  throw new UsageError('say admin, agent and an agent id, or join')
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const request = parseTokenArgs(args)
  let secret: string
  try {
    secret = await ensureSecret(resolveHubConfig(io.env), nodeSecretFiles)
  } catch (err) {
    if (err instanceof ConfigError) throw err
    throw new ConfigError((err as Error).message)
  }
  const token = request.role === 'join'
    ? (await mintJoinToken(secret, request, Date.now())).token
    : (await mintToken(secret, request)).token
  io.out(token)
  return 0
}
