/**
 * A temporary entry for the operator verbs, `npm run agentcom -- <verb> ...`, until they join
 * the `agentcom` command's own dispatcher (cli/agentcom.ts). Ctrl-C ends a verb that follows
 * something (events, --watch, --follow) cleanly.
 */
import { operatorVerbs } from './operator/index.ts'

const [name, ...argv] = process.argv.slice(2)
const verb = name === undefined ? undefined : operatorVerbs[name]
if (!verb) {
  process.stderr.write(`agentcom: ${name === undefined ? 'missing verb' : `unknown verb '${name}'`}\nverbs: ${Object.keys(operatorVerbs).join(', ')}\n`)
  process.exit(2)
}
const stop = new AbortController()
process.once('SIGINT', () => stop.abort())
process.once('SIGTERM', () => stop.abort())
process.exitCode = await verb(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: stop.signal })
// An aborted fetch can leave a socket open a moment longer; the verb is done.
process.exit()
