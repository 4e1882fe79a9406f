// The chaos run's task command: appends `<task_id> start <epoch ms> <agent_id>` to the ledger
// named on its command line when it starts and `<task_id> end <epoch ms> <agent_id>` when its
// work is done (one line each, so every run is counted; the agent id is its second argument),
// works for input.sleep_ms, returns {"echo": input}.
import { appendFileSync } from 'node:fs'

let text = ''
process.stdin.setEncoding('utf8')
for await (const chunk of process.stdin) text += chunk
const { task_id: taskId, input } = JSON.parse(text)
appendFileSync(process.argv[2], `${taskId} start ${Date.now()} ${process.argv[3]}\n`)
const sleepMs = Number(input?.sleep_ms) || 0
if (sleepMs > 0) await new Promise((resolve) => setTimeout(resolve, sleepMs))
appendFileSync(process.argv[2], `${taskId} end ${Date.now()} ${process.argv[3]}\n`)
process.stdout.write(JSON.stringify({ echo: input }))
