/** `agentcom sidecar`: one sidecar, foreground, as `npm run sidecar` (sidecar/main.ts); what pm2 runs. */
import { UsageError, type CliIo } from './args.ts'

export const usage = [
  'usage: agentcom sidecar',
  '  One sidecar, in the foreground, configured by the environment: AGENTCOM_HUB_URL,',
  '  AGENTCOM_AGENT_ID, AGENTCOM_TOKEN_FILE, AGENTCOM_TASK_COMMAND, ... (README, "Configuration").',
].join('\n')

export async function run(args: string[], _io: CliIo): Promise<undefined> {
  if (args.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args[0])}`)
  // The sidecar's entry starts it on import and owns the process from then on (signals, exit).
  await import('../sidecar/main.ts')
  return undefined
}
