// The demo fleet's task command: works for input.sleep_ms, then returns {"echo": input}.
// Reads the task as JSON on stdin, as every AGENTCOM_TASK_COMMAND does.
let text = ''
process.stdin.setEncoding('utf8')
for await (const chunk of process.stdin) text += chunk
const { input } = JSON.parse(text)
const sleepMs = Number(input?.sleep_ms) || 0
if (sleepMs > 0) await new Promise((resolve) => setTimeout(resolve, sleepMs))
if (input?.fail) {
  process.stderr.write(`demo task failed on request: ${String(input.fail)}\n`)
  process.exit(1)
}
process.stdout.write(JSON.stringify({ echo: input }))
