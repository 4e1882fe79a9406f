/** `agentcom hub`: the hub on Node, foreground, as `npm run hub` (hub/node.ts). */
import { UsageError, type CliIo } from './args.ts'

export const usage = [
  'usage: agentcom hub',
  '  The hub on Node, in the foreground, configured by the environment: PORT, HOST,',
  '  AGENTCOM_SECRET, AGENTCOM_DATA_DIR, AGENTCOM_DATABASE_URL, ... (README, "Configuration").',
].join('\n')

export async function run(args: string[], _io: CliIo): Promise<undefined> {
  if (args.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args[0])}`)
  // The hub's entry starts it on import and owns the process from then on (signals, exit).
  await import('../hub/node.ts')
  return undefined
}
