/**
 * `npm run --silent token -- admin` or `... -- agent <agent_id>`: prints one signed token.
 * Uses AGENTCOM_SECRET, else the data dir's hub-secret (created if missing), like the hub.
 */
import * as v from 'valibot'
import { signAdminToken, signAgentToken } from '../hub/auth.ts'
import { resolveHubConfig } from '../hub/config.ts'
import { ensureSecret } from '../hub/secret.ts'
import { AgentId } from '../shared/protocol.ts'
import { EXIT_CONFIG } from '../shared/settings.ts'
import { nodeSecretFiles } from '../hub/node/platform.ts'

const USAGE = 'usage: npm run --silent token -- admin | agent <agent_id>'
/** sysexits EX_USAGE. */
const EXIT_USAGE = 64

async function main(args: string[]): Promise<number> {
  const [role, agentId, ...rest] = args
  if (rest.length > 0 || (role !== 'admin' && role !== 'agent') || (role === 'admin' && agentId !== undefined)) {
    console.error(USAGE)
    return EXIT_USAGE
  }
  if (role === 'agent' && !v.is(AgentId, agentId)) {
    console.error(`invalid agent id ${JSON.stringify(agentId ?? '')}: 1 to 64 characters of A-Za-z0-9._-`)
    return EXIT_USAGE
  }
  let secret: string
  try {
    secret = await ensureSecret(resolveHubConfig(process.env), nodeSecretFiles)
  } catch (err) {
    console.error(`agentcom token: ${(err as Error).message}`)
    return EXIT_CONFIG
  }
  const token = role === 'admin' ? await signAdminToken(secret) : await signAgentToken(secret, agentId!)
  process.stdout.write(`${token}\n`)
  return 0
}

process.exitCode = await main(process.argv.slice(2))
