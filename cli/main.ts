/**
 * `agentcom <verb> ...`: picks the verb from cli/verbs.ts and runs it; a usage error exits 2 with
 * that verb's usage, a configuration error 78, anything else a verb throws exits 1; each with one
 * line on stderr.
 */
import { EXIT_USAGE, UsageError, type CliIo } from './args.ts'
import { VERBS } from './verbs.ts'
import { AGENTCOM_VERSION } from '../sidecar/version.ts'
import { ConfigError, EXIT_CONFIG } from '../shared/settings.ts'
import { resolveLogSettings } from '../shared/log.ts'

function usage(): string {
  const width = Math.max(...Object.keys(VERBS).map((verb) => verb.length))
  return [
    'usage: agentcom <verb> [options]',
    '',
    ...Object.entries(VERBS).map(([verb, entry]) => `  ${verb.padEnd(width)}  ${entry.summary}`),
    '',
    'agentcom <verb> --help shows the usage of one verb; agentcom --version its version.',
  ].join('\n')
}

export async function main(args: string[], io: CliIo): Promise<number | undefined> {
  const [verb, ...rest] = args
  if (verb === '--version' || verb === '-v') {
    io.out(AGENTCOM_VERSION)
    return 0
  }
  if (verb === undefined) {
    io.err(usage()) // a usage error as any other: stdout stays what scripts read
    return EXIT_USAGE
  }
  if (verb === '--help' || verb === '-h' || verb === 'help') {
    io.out(usage())
    return 0
  }
  const entry = Object.hasOwn(VERBS, verb) ? VERBS[verb] : undefined
  if (!entry) {
    io.err(`agentcom: unknown verb ${JSON.stringify(verb)}\n${usage()}`)
    return EXIT_USAGE
  }
  const module = await entry.load()
  if (module.usage !== '' && (rest.includes('--help') || rest.includes('-h'))) {
    io.out(module.usage)
    return 0
  }
  try {
    // Every verb honours the log settings; a bad one stops it before it does anything.
    resolveLogSettings(io.env, false)
    return await module.run(rest, io)
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`agentcom ${verb}: ${err.message}\n${module.usage}`)
      return EXIT_USAGE
    }
    io.err(`agentcom ${verb}: ${(err as Error).message ?? String(err)}`)
    if (err instanceof ConfigError) return EXIT_CONFIG
    return 1
  }
}

