/**
 * task_output_flood: a task printing 10 MiB as fast as it can, on a real sidecar under a real pm2,
 * against a real hub process. Measures the hub's RSS (before, peak while the task runs and until
 * it has ended, after) and the latency of commands meanwhile (POST a task pinned to an idle probe
 * agent → its `task_assign` frame), beside the same latency with no output flowing (alternating
 * rounds A B A B). Standalone: `node --import tsx bench/task-output.ts [--runtime deno] [--rounds n]`.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startHubProcess, type Runtime } from '../support/hub-process.ts'
import { createPm2Sandbox } from '../support/pm2.ts'
import { identifiedSocket } from '../support/ws-client.ts'
import { waitFor } from '../support/wait.ts'
import { percentile } from './support/stats.ts'

const MIB = 1024 * 1024
const args = process.argv.slice(2)
const runtime = (args[args.indexOf('--runtime') + 1] === 'deno' ? 'deno' : 'node') as Runtime
const rounds = args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : 3
const SAMPLES_PER_PHASE = 40

/** Writes 64-byte lines to stdout as fast as the pipe takes them: input.mib MiB, or for input.seconds. */
const FLOOD = `
let text = ''
for await (const chunk of process.stdin) text += chunk
const { input } = JSON.parse(text)
const line = Buffer.from('x'.repeat(63) + '\\n')
const block = Buffer.concat(Array.from({ length: 1024 }, () => line))
let left = input.mib ? input.mib * 1024 * 1024 : Infinity
const until = input.seconds ? Date.now() + input.seconds * 1000 : Infinity
function write() {
  while (left > 0 && Date.now() < until) {
    left -= block.length
    if (!process.stdout.write(block)) return process.stdout.once('drain', write)
  }
}
write()
`

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024
}

const hub = await startHubProcess({}, runtime)
const pm2 = await createPm2Sandbox()
try {
  const script = join(pm2.home, 'flood.mjs')
  await writeFile(script, FLOOD)
  await pm2.startSidecar('flood-1', {
    AGENTCOM_HUB_URL: hub.wsUrl, AGENTCOM_TOKEN: await hub.agentToken('flood-1'), AGENTCOM_TASK_COMMAND: `"${process.execPath}" "${script}"`,
  })
  await waitFor(() => hub.api('GET', '/api/admin/agents/flood-1'), (r) => r.body.status === 'idle', { what: 'flood-1 idle' })
  const probe = await identifiedSocket(hub.wsUrl, 'probe', await hub.agentToken('probe'))
  const pid = hub.child.pid!

  /** POST a task pinned to the probe → its task_assign; the probe completes it at once. */
  async function command(): Promise<number> {
    const started = performance.now()
    const res = await hub.api('POST', '/api/admin/tasks', { input: {}, agent_id: 'probe' })
    const assign = await probe.next('task_assign')
    const ms = performance.now() - started
    probe.send({ type: 'task_accepted', task_id: assign.task_id })
    probe.send({ type: 'task_complete', task_id: res.body.task_id, result: null })
    await probe.next('task_ack')
    // Paced: the probe sends two frames per command and must stay inside its own frame budget.
    await new Promise((resolve) => setTimeout(resolve, 30))
    return ms
  }

  for (let i = 0; i < 10; i++) await command()
  const quiet: number[] = []
  const flooding: number[] = []
  const rssBefore = await rssOf(pid)
  let rssPeak = rssBefore
  const runs: { input: string; ms: number; truncated: boolean; kept: number }[] = []
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < SAMPLES_PER_PHASE; i++) quiet.push(await command())
    // Odd rounds: 10 MiB as fast as it goes; even rounds: printing without pause for 5 s.
    const input = round % 2 === 0 ? { mib: 10 } : { seconds: 5 }
    const t = (await hub.api('POST', '/api/admin/tasks', { input, agent_id: 'flood-1' })).body
    const started = performance.now()
    let over = false
    const sampler = (async () => {
      while (!over) {
        rssPeak = Math.max(rssPeak, await rssOf(pid))
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    })()
    // Commands while the task prints and its output flows, until it has ended.
    for (;;) {
      flooding.push(await command())
      const now = (await hub.api('GET', `/api/admin/tasks/${t.task_id}`)).body
      if (now.status === 'completed' || now.status === 'failed') break
    }
    over = true
    await sampler
    const output = (await hub.api('GET', `/api/admin/tasks/${t.task_id}/output`)).body
    runs.push({ input: JSON.stringify(input), ms: performance.now() - started, truncated: output.truncated, kept: output.output.reduce((n: number, c: any) => n + c.data.length, 0) })
  }
  const rssAfter = await rssOf(pid)
  const summary = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(2)} p99 ${percentile(xs, 99).toFixed(2)} ms (${xs.length})`
  console.log(JSON.stringify({
    figure: 'task_output_flood', runtime, rounds,
    rss_before_mib: +(rssBefore / MIB).toFixed(1), rss_peak_mib: +(rssPeak / MIB).toFixed(1), rss_after_mib: +(rssAfter / MIB).toFixed(1),
    command_quiet: summary(quiet), command_flooding: summary(flooding),
    runs: runs.map((r) => ({ input: r.input, task_ms: Math.round(r.ms), kept_kib: Math.round(r.kept / 1024), truncated: r.truncated })),
  }, null, 2))
  probe.close()
} finally {
  await pm2.kill()
  await hub.stop()
}
