/**
 * `npm run --silent token -- admin [--ttl <d>]`, `... -- agent <agent_id> [--ttl <d>]` or
 * `... -- join [...]`: the same as `agentcom token` (cli/token.ts), from the sources.
 */
import { processIo } from '../cli/args.ts'
import { main } from '../cli/main.ts'

process.exitCode = await main(['token', ...process.argv.slice(2)], processIo)
