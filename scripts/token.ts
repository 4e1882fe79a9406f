/**
 * `npm run --silent token -- admin [--ttl <d>]` or `... -- agent <agent_id> [--ttl <d>]`:
 * prints one signed token and nothing else. Uses AGENTCOM_SECRET, else the data dir's
 * hub-secret (created if missing), like the hub: it runs on the hub's machine.
 */
import * as v from 'valibot'
import { MAX_TTL_S, mintToken, type MintRequest } from '../hub/auth.ts'
import { resolveHubConfig } from '../hub/config.ts'
import { ensureSecret } from '../hub/secret.ts'
import { AgentId } from '../shared/protocol.ts'
import { EXIT_CONFIG } from '../shared/settings.ts'
import { nodeSecretFiles } from '../hub/node/platform.ts'

const USAGE = [
  'usage: npm run --silent token -- admin [--ttl <d>]',
  '       npm run --silent token -- agent <agent_id> [--ttl <d>]',
  '  --ttl: <n>s, <n>m, <n>h or <n>d, at most 365d (admin tokens: 24h by default; agent tokens: no expiry by default)',
].join('\n')
/** sysexits EX_USAGE. */
const EXIT_USAGE = 64

const UNIT_S = { s: 1, m: 60, h: 3600, d: 86_400 } as const

/** `90s`, `15m`, `12h`, `30d` in seconds; null for anything else or more than 365 days. */
function parseTtl(text: string): number | null {
  const match = /^([1-9]\d{0,8})([smhd])$/.exec(text)
  if (!match) return null
  const seconds = Number(match[1]) * UNIT_S[match[2] as keyof typeof UNIT_S]
  return seconds <= MAX_TTL_S ? seconds : null
}

/** The request the arguments ask for, or a message saying what is wrong with them. */
function parseArgs(args: string[]): MintRequest | string {
  const rest = [...args]
  let ttlS: number | undefined
  const at = rest.indexOf('--ttl')
  if (at !== -1) {
    const raw = rest[at + 1]
    const parsed = raw === undefined ? null : parseTtl(raw)
    if (parsed === null) return `--ttl must be <n>s, <n>m, <n>h or <n>d, at most 365d`
    ttlS = parsed
    rest.splice(at, 2)
  }
  const [role, agentId, ...extra] = rest
  if (extra.length > 0 || rest.some((a) => a.startsWith('-'))) return 'unexpected arguments'
  if (role === 'admin' && agentId === undefined) return { role: 'admin', ttlS }
  if (role === 'agent' && agentId !== undefined) {
    if (!v.is(AgentId, agentId)) return 'invalid agent id: 1 to 64 characters of A-Za-z0-9._-'
    return { role: 'agent', sub: agentId, ttlS }
  }
  return 'say admin, or agent and an agent id'
}

async function main(args: string[]): Promise<number> {
  const request = parseArgs(args)
  if (typeof request === 'string') {
    console.error(`agentcom token: ${request}\n${USAGE}`)
    return EXIT_USAGE
  }
  let secret: string
  try {
    secret = await ensureSecret(resolveHubConfig(process.env), nodeSecretFiles)
  } catch (err) {
    console.error(`agentcom token: ${(err as Error).message}`)
    return EXIT_CONFIG
  }
  process.stdout.write(`${(await mintToken(secret, request)).token}\n`)
  return 0
}

process.exitCode = await main(process.argv.slice(2))
