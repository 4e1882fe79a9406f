#!/usr/bin/env node
/**
 * `agentcom`: the package's one command (bin), and `npm run agentcom -- ...` in the repository.
 * The entry only; the verbs are in cli/main.ts and cli/verbs.ts.
 */
import { processIo } from './args.ts'
import { main } from './main.ts'

const code = await main(process.argv.slice(2), processIo)
if (code !== undefined) process.exitCode = code
