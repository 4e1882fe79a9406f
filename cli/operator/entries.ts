/**
 * The operator verbs as entries of the `agentcom` command's verb table (cli/verbs.ts). Each
 * prints its own usage (`--help`) and exits as the contract says; a verb that follows something
 * (events, --watch, --follow) ends cleanly on Ctrl-C.
 */
import type { VerbModule } from '../args.ts'
import type { VerbEntry } from '../verbs.ts'

const SUMMARIES: Record<string, string> = {
  agents: 'list the agents (--status, --label, --json)',
  agent: 'show one agent',
  restart: 'restart an agent (--force, --deadline, --reason, --wait)',
  drain: 'keep an agent from new tasks',
  resume: 'let a drained agent take tasks again',
  rollout: 'restart the fleet a few at a time (--watch), or cancel one',
  run: 'run a task (--agent, --label, --all, --wait, --follow)',
  tasks: 'list tasks (--status, --agent, --limit)',
  task: 'show one task',
  cancel: 'cancel a task',
  logs: 'print a task\'s output (--follow)',
  events: 'follow the hub\'s events, resuming after a reconnect',
  healing: 'show healing, or pause / resume it',
  audit: 'list the audit trail (--limit)',
}

export const operatorVerbEntries: Record<string, VerbEntry> = Object.fromEntries(
  Object.entries(SUMMARIES).map(([name, summary]) => [name, { summary, load: () => loadVerb(name) }]),
)

async function loadVerb(name: string): Promise<VerbModule> {
  const { operatorVerbs } = await import('./index.ts')
  const verb = operatorVerbs[name]
  return {
    // Empty: the verb answers --help itself.
    usage: '',
    async run(args, io) {
      const stop = new AbortController()
      const abort = () => stop.abort()
      process.once('SIGINT', abort)
      process.once('SIGTERM', abort)
      try {
        return await verb(args, { stdout: process.stdout, stderr: process.stderr, env: io.env, signal: stop.signal })
      } finally {
        process.off('SIGINT', abort)
        process.off('SIGTERM', abort)
      }
    },
  }
}
