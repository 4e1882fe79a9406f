/**
 * `npm run --silent token -- admin [--role <r>] [--name <n>] [--ttl <d>]` or `... -- agent <agent_id> [--ttl <d>]`:
 * prints one signed token and nothing else. Uses AGENTCOM_SECRET, else the data dir's
 * hub-secret (created if missing), like the hub: it runs on the hub's machine.
 */
import { mintToken } from '../hub/auth.ts'
import { TOKEN_USAGE, parseTokenArgs } from './token-args.ts'
import { resolveHubConfig } from '../hub/config.ts'
import { ensureSecret } from '../hub/secret.ts'
import { EXIT_CONFIG } from '../shared/settings.ts'
import { nodeSecretFiles } from '../hub/node/platform.ts'

/** sysexits EX_USAGE. */
const EXIT_USAGE = 64

async function main(args: string[]): Promise<number> {
  const request = parseTokenArgs(args)
  if (typeof request === 'string') {
    console.error(`agentcom token: ${request}\n${TOKEN_USAGE}`)
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
