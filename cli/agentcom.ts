#!/usr/bin/env node
/**
 * `agentcom`: the package's one command (bin), and `npm run agentcom -- ...` in the repository.
 * The entry only; the verbs are in cli/main.ts and cli/verbs.ts.
 */
import { processIo } from './args.ts'
import { main } from './main.ts'

const code = await main(process.argv.slice(2), processIo)
// A verb that is done exits now (an aborted fetch can hold a socket open a moment longer);
// hub and sidecar answer undefined and keep running.
if (code !== undefined) process.exit(code)
