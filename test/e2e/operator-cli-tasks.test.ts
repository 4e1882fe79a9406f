/**
 * The task verbs of `agentcom` end to end (tasks, task, cancel, logs, run --label/--all/--retries/
 * --follow, audit, agents --label, rollout --label): a real hub process (Node or Deno) and two
 * real sidecars under a real pm2, one labelled through AGENTCOM_LABELS. The verbs run in this
 * process with captured streams, as operator-cli.test.ts does; every answer they receive is held
 * to the schema the hub's OpenAPI document declares for it.
 */
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { operatorVerbs } from '../../cli/operator/index.ts'
import { TASK_COLUMNS } from '../../cli/operator/tasks.ts'
import type { Answer } from '../../cli/operator/client.ts'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { createPm2Sandbox, type Pm2Sandbox } from '../../support/pm2.ts'
import { createAnswerChecker } from '../../support/openapi-check.ts'
import { waitFor } from '../../support/wait.ts'

const ROOT = join(import.meta.dirname, '..', '..')
const FLEET = ['tc-1', 'tc-gpu']
const FINAL = ['completed', 'failed', 'cancelled']

/**
 * The task command: `{"parts": [...], "every_ms": n}` writes each part to stdout, `every_ms`
 * apart (a chunk each: the sidecar sends output at least every 250 ms); otherwise the demo
 * task's rules: sleeps `sleep_ms`, fails on `fail`, else prints `{"echo": input}` (no newline).
 */
const TASK = `
let text = ''
for await (const chunk of process.stdin) text += chunk
const { input } = JSON.parse(text)
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
if (Array.isArray(input.parts)) {
  for (const [i, part] of input.parts.entries()) {
    if (i > 0) await pause(input.every_ms)
    process.stdout.write(part)
  }
} else {
  if (input.sleep_ms) await pause(input.sleep_ms)
  if (input.fail) {
    process.stderr.write('task failed on request: ' + input.fail + '\\n')
    process.exit(1)
  }
  process.stdout.write(JSON.stringify({ echo: input }))
}
`

let hub: HubProcess
let pm2: Pm2Sandbox
let token: string
const answers: Answer[] = []
/** The events `logs --follow --json` printed, whose data is held to the document's schemas too. */
const streamed: { path: string; event: string; data: unknown }[] = []

beforeAll(async () => {
  hub = await startHubProcess()
  token = await hub.adminToken()
  pm2 = await createPm2Sandbox()
  const script = join(pm2.home, 'task.mjs')
  await writeFile(script, TASK)
  const common = { AGENTCOM_HUB_URL: hub.wsUrl, AGENTCOM_TASK_COMMAND: `"${process.execPath}" "${script}"`, AGENTCOM_CANCEL_GRACE_MS: '1000' }
  await pm2.startSidecar('tc-1', { ...common, AGENTCOM_TOKEN: await hub.agentToken('tc-1') })
  await pm2.startSidecar('tc-gpu', { ...common, AGENTCOM_TOKEN: await hub.agentToken('tc-gpu'), AGENTCOM_LABELS: 'gpu,zone=eu' })
  for (const id of FLEET) await waitFor(() => agent(id), (a) => a.status === 'idle', { what: `${id} idle`, timeoutMs: 40_000 })
})

afterAll(async () => {
  await pm2?.kill()
  await hub?.stop()
})

const agent = async (id: string) => (await hub.api('GET', `/api/admin/agents/${id}`)).body
const taskOf = async (id: string) => (await hub.api('GET', `/api/admin/tasks/${id}`)).body
const fleetIdle = () => waitFor(async () => (await hub.api('GET', '/api/admin/agents')).body.agents, (as: any[]) => as.every((a) => a.status === 'idle'), { what: 'fleet idle' })

interface Run { code: number; out: string; err: string; answers: Answer[] }

/** A verb running in this process, as `agentcom <args>` would: `run` fills as it writes. */
function startCli(args: string[], signal?: AbortSignal): { run: Run; done: Promise<Run> } {
  const run: Run = { code: -1, out: '', err: '', answers: [] }
  const done = operatorVerbs[args[0]](args.slice(1), {
    stdout: { write: (s: string) => (run.out += s), isTTY: false },
    stderr: { write: (s: string) => (run.err += s), isTTY: false },
    env: { AGENTCOM_URL: hub.url, AGENTCOM_TOKEN: token },
    signal,
    onAnswer: (a) => {
      answers.push(a)
      run.answers.push(a)
    },
  }).then((code) => {
    run.code = code
    return run
  })
  return { run, done }
}

const cli = (args: string[]): Promise<Run> => startCli(args).done

/** The last JSON answer of a run to `method` on a path matching `path`. */
const answerOf = (run: Run, method: string, path: RegExp) => run.answers.filter((a) => a.method === method && path.test(a.path)).at(-1)!.body

/** The task id the `run` verb's create answered. */
const createdId = (run: Run) => (answerOf(run, 'POST', /^\/api\/admin\/tasks$/) as { task_id: string }).task_id

describe('operator task verbs against a real fleet', () => {
  it('agents --label: only the agents with every label', async () => {
    const gpu = await cli(['agents', '--label', 'gpu', '--json'])
    expect(gpu.code).toBe(0)
    expect(JSON.parse(gpu.out)).toEqual(answerOf(gpu, 'GET', /^\/api\/admin\/agents\?label=gpu$/))
    expect(JSON.parse(gpu.out).agents.map((a: any) => a.agent_id)).toEqual(['tc-gpu'])
    const both = await cli(['agents', '--label', 'gpu', '--label', 'zone=eu'])
    expect(both.code).toBe(0)
    expect(both.out.trimEnd().split('\n').slice(1).map((line) => line.split(/ {2,}/)[0])).toEqual(['tc-gpu'])
    const none = await cli(['agents', '--label', 'gpu', '--label', 'zone=us'])
    expect(none).toMatchObject({ code: 0, out: 'AGENT  STATUS  RESTARTS  MEMORY  TASK  VERSION  LAST SEEN\n' })
    expect(await cli(['agents', '--label', 'not a label'])).toMatchObject({ code: 1, out: '', err: expect.stringMatching(/^agentcom: invalid request: label: [^\n]+ \(400\)\n$/) })
  })

  it('run --label runs only on the labelled agent', async () => {
    for (let i = 0; i < 3; i++) {
      const run = await cli(['run', '--label', 'gpu', '--input', `{"i":${i}}`, '--wait'])
      expect(run.code).toBe(0)
      expect(run.out).toMatch(new RegExp(`^task \\S+ completed on tc-gpu after 1 attempt: \\{"echo":\\{"i":${i}\\}\\}\\n$`))
      expect(await taskOf(createdId(run))).toMatchObject({ agent_id: 'tc-gpu', labels: ['gpu'] })
    }
    const all = await cli(['run', '--all', '--label', 'zone=eu', '--wait'])
    expect(all.code).toBe(0)
    expect(all.out).toMatch(/^task \S+ completed on tc-gpu after 1 attempt: \{"echo":\{\}\}\n$/)
    expect(await cli(['run', '--all', '--label', 'zone=us', '--wait'])).toMatchObject({ code: 0, out: 'no agent matches: no task created\n' })
  })

  it('run --follow streams the output, then prints the result on its own line; exit 0', async () => {
    const parts = ['one\n', 'two\n', 'three\n']
    const live = startCli(['run', '--agent', 'tc-1', '--input', JSON.stringify({ parts, every_ms: 400 }), '--follow'])
    await waitFor(async () => live.run.out, (out) => out.includes('one\n'), { what: 'the first output' })
    expect(FINAL).not.toContain((await taskOf(createdId(live.run))).status)
    const run = await live.done
    expect(run.code).toBe(0)
    expect(run.out).toMatch(/^one\ntwo\nthree\ntask \S+ completed on tc-1 after 1 attempt: "one\\ntwo\\nthree"\n$/)
    // Output that does not end its line still leaves the result a line of its own.
    const echo = await cli(['run', '--agent', 'tc-1', '--input', '{"n":2}', '--follow'])
    expect(echo.code).toBe(0)
    expect(echo.out).toMatch(/^\{"echo":\{"n":2\}\}\ntask \S+ completed on tc-1 after 1 attempt: \{"echo":\{"n":2\}\}\n$/)
  })

  it('run --all: one task per agent, exit 0 when all complete; --follow prefixes whole lines', async () => {
    await fleetIdle()
    const run = await cli(['run', '--all', '--input', '{"all":1}', '--wait'])
    expect(run.code).toBe(0)
    const created = (answerOf(run, 'POST', /^\/api\/admin\/tasks$/) as { tasks: { task_id: string; agent_id: string }[] }).tasks
    expect(created.map((t) => t.agent_id).sort()).toEqual(FLEET)
    const lines = run.out.trimEnd().split('\n')
    expect(lines).toHaveLength(2)
    for (const t of created) expect(lines).toContain(`task ${t.task_id} completed on ${t.agent_id} after 1 attempt: {"echo":{"all":1}}`)

    await fleetIdle()
    const followed = await cli(['run', '--all', '--input', JSON.stringify({ parts: ['half ', 'line\n'], every_ms: 600 }), '--follow'])
    expect(followed.code).toBe(0)
    const tasks = (answerOf(followed, 'POST', /^\/api\/admin\/tasks$/) as { tasks: { task_id: string }[] }).tasks
    expect(tasks).toHaveLength(2)
    for (const t of tasks) expect(followed.out).toContain(`[${t.task_id.slice(0, 8)}] half line\n`)
  })

  it('run --retries 1 with a failing input: exit 1, the task failed after 2 attempts', async () => {
    const run = await cli(['run', '--agent', 'tc-1', '--input', '{"fail":"twice"}', '--retries', '1', '--wait'])
    expect(run.code).toBe(1)
    expect(run.out).toMatch(/^task \S+ failed on tc-1 after 2 attempts: .*twice/)
    expect(await taskOf(createdId(run))).toMatchObject({ status: 'failed', attempts: 2 })
  })

  it('logs --follow prints a task\'s output as it runs and ends with it; logs prints it after', async () => {
    await fleetIdle()
    const made = await hub.api('POST', '/api/admin/tasks', { input: { parts: ['a\n', 'b\n', 'c\n'], every_ms: 400 }, agent_id: 'tc-1' })
    const id = made.body.task_id as string
    const live = startCli(['logs', id, '--follow'])
    await waitFor(async () => live.run.out, (out) => out.includes('a\n'), { what: 'the first output' })
    expect(FINAL).not.toContain((await taskOf(id)).status)
    expect(await live.done).toMatchObject({ code: 0, out: 'a\nb\nc\n', err: '' })
    expect(await cli(['logs', id])).toMatchObject({ code: 0, out: 'a\nb\nc\n' })
    const json = await cli(['logs', id, '--json'])
    expect(JSON.parse(json.out)).toEqual(answerOf(json, 'GET', /\/output$/))
    const events = await cli(['logs', id, '--follow', '--json'])
    expect(events.code).toBe(0)
    const lines = events.out.trimEnd().split('\n').map((line) => JSON.parse(line))
    expect(lines.map((e) => e.event)).toEqual([...lines.slice(0, -1).map(() => 'output'), 'end'])
    expect(lines.slice(0, -1).map((e) => e.data.data).join('')).toBe('a\nb\nc\n')
    expect(lines.at(-1).data).toEqual(await taskOf(id))
    streamed.push(...lines.map((e) => ({ path: `/api/admin/tasks/${id}/output`, event: e.event, data: e.data })))
    for (const args of [['logs', 'nope'], ['logs', 'nope', '--follow']]) {
      expect(await cli(args)).toMatchObject({ code: 1, out: '', err: 'agentcom: task not found: nope (404 task_not_found)\n' })
    }
  })

  let cancelledId = ''

  it('cancel: a running task is cancelled, exit 0; a finished one is exit 1 with one line', async () => {
    const made = await hub.api('POST', '/api/admin/tasks', { input: { sleep_ms: 60_000 }, agent_id: 'tc-1' })
    cancelledId = made.body.task_id
    await waitFor(() => taskOf(cancelledId), (t) => t.status === 'working', { what: 'the long task working', timeoutMs: 30_000 })
    const run = await cli(['cancel', cancelledId])
    expect(run).toMatchObject({ code: 0, out: `task ${cancelledId} cancelled\n`, err: '' })
    expect(await taskOf(cancelledId)).toMatchObject({ status: 'cancelled' })
    // The agent is free again once its sidecar stopped the task.
    await waitFor(() => agent('tc-1'), (a) => a.status === 'idle', { what: 'tc-1 idle after the cancel', timeoutMs: 20_000 })

    const again = await cli(['cancel', cancelledId])
    expect(again).toMatchObject({ code: 1, out: '' })
    expect(again.err).toMatch(/^agentcom: [^\n]+\n$/)
    expect(again.err).toContain('409 task_finished')
    const done = await cli(['run', '--agent', 'tc-1', '--input', '{}', '--wait'])
    const finished = await cli(['cancel', createdId(done)])
    expect(finished).toMatchObject({ code: 1, out: '', err: `agentcom: task finished: ${createdId(done)} (409 task_finished)\n` })
    expect(await cli(['cancel', 'nope'])).toMatchObject({ code: 1, err: 'agentcom: task not found: nope (404 task_not_found)\n' })
  })

  it('tasks: the contract columns, one row per task, newest first; --json is GET /api/admin/tasks', async () => {
    await fleetIdle()
    const api = (await hub.api('GET', '/api/admin/tasks')).body
    const json = await cli(['tasks', '--json'])
    expect(json.code).toBe(0)
    expect(JSON.parse(json.out)).toEqual(answerOf(json, 'GET', /^\/api\/admin\/tasks$/))
    expect(JSON.parse(json.out)).toEqual(api)

    const table = await cli(['tasks'])
    expect(table).toMatchObject({ code: 0, err: '' })
    const [header, ...rows] = table.out.trimEnd().split('\n').map((line) => line.split(/ {2,}/))
    expect(header).toEqual([...TASK_COLUMNS])
    expect(rows.map((r) => r[0])).toEqual(api.tasks.map((t: any) => t.task_id))
    for (const [row, t] of rows.map((r, i) => [r, api.tasks[i]] as const)) {
      expect(row).toEqual([t.task_id, t.status, t.agent_id ?? '-', String(t.attempts), expect.stringMatching(/ ago$/), expect.stringMatching(/ ago$/)])
    }

    const cancelled = await cli(['tasks', '--status', 'cancelled', '--json'])
    expect(JSON.parse(cancelled.out).tasks.map((t: any) => t.task_id)).toEqual([cancelledId])
    const gpu = await cli(['tasks', '--agent', 'tc-gpu', '--limit', '2', '--json'])
    expect(JSON.parse(gpu.out)).toEqual((await hub.api('GET', '/api/admin/tasks?agent_id=tc-gpu&limit=2')).body)
    expect(JSON.parse(gpu.out).tasks).toHaveLength(2)
    expect(JSON.parse(gpu.out).tasks.every((t: any) => t.agent_id === 'tc-gpu')).toBe(true)
    expect((await cli(['tasks', '--limit', '0'])).code).toBe(2)
  })

  it('task <id>: the task for people and as JSON; an unknown one is exit 1', async () => {
    const json = await cli(['task', cancelledId, '--json'])
    expect(JSON.parse(json.out)).toEqual(await taskOf(cancelledId))
    const shown = await cli(['task', cancelledId])
    expect(shown.code).toBe(0)
    expect(shown.out).toMatch(new RegExp(`^task: +${cancelledId}\nstatus: +cancelled\nagent: +tc-1\nattempts: +1\ninput: +\\{"sleep_ms":60000\\}\nresult: +-\n`))
    expect(await cli(['task', 'nope'])).toMatchObject({ code: 1, out: '', err: 'agentcom: task not found: nope (404 task_not_found)\n' })
  })

  it('audit --json is GET /api/admin/audit and holds the cancel; the table shows it', async () => {
    const json = await cli(['audit', '--json'])
    expect(json.code).toBe(0)
    const page = JSON.parse(json.out)
    expect(page).toEqual(answerOf(json, 'GET', /^\/api\/admin\/audit$/))
    expect(page).toEqual((await hub.api('GET', '/api/admin/audit')).body)
    const cancels = page.records.filter((r: any) => r.action === 'task.cancel')
    expect(cancels.map((r: any) => [r.target, r.status])).toEqual(expect.arrayContaining([[cancelledId, 200], [cancelledId, 409]]))
    const limited = await cli(['audit', '--limit', '1', '--json'])
    expect(JSON.parse(limited.out).records).toEqual(page.records.slice(0, 1))
    const table = await cli(['audit'])
    expect(table.out.split('\n')[0].split(/ {2,}/)).toEqual(['AT', 'ACTOR', 'ACTION', 'TARGET', 'STATUS'])
    expect(table.out).toMatch(new RegExp(`^\\S+ \\S+ +admin \\(admin\\) +task\\.cancel +${cancelledId} +200$`, 'm'))
  })

  it('rollout --label --watch restarts only the labelled agent', async () => {
    await fleetIdle()
    const before = await Promise.all(['agentcom-tc-1', 'agentcom-tc-gpu'].map(async (name) => (await pm2.get(name)).restart_time))
    const run = await cli(['rollout', '--label', 'gpu', '--watch'])
    expect(run.code).toBe(0)
    expect(run.out).toMatch(/^rollout (\S+): 1 agent, at most 1 at a time\nrollout \1 completed: 1\/1 completed\n$/)
    const after = await Promise.all(['agentcom-tc-1', 'agentcom-tc-gpu'].map(async (name) => (await pm2.get(name)).restart_time))
    expect(after).toEqual([before[0], before[1] + 1])
  }, 60_000)

  it('through the entry (cli/agentcom.ts): run --follow, tasks --json, and a refused cancel is one line and exit 1', async () => {
    const entry = (args: string[]) => promisify(execFile)(process.execPath, ['--import', 'tsx', 'cli/agentcom.ts', ...args], {
      cwd: ROOT, env: { ...process.env, AGENTCOM_URL: hub.url, AGENTCOM_TOKEN: token },
    }).then(({ stdout, stderr }) => ({ code: 0, stdout, stderr }), (err) => ({ code: err.code as number, stdout: err.stdout as string, stderr: err.stderr as string }))
    const followed = await entry(['run', '--agent', 'tc-1', '--input', JSON.stringify({ parts: ['x\n', 'y'], every_ms: 300 }), '--follow'])
    expect(followed).toMatchObject({ code: 0, stderr: '' })
    expect(followed.stdout).toMatch(/^x\ny\ntask (\S+) completed on tc-1 after 1 attempt: "x\\ny"\n$/)
    const id = /^task (\S+) completed/m.exec(followed.stdout)![1]
    const listed = await entry(['tasks', '--limit', '1', '--json'])
    expect(listed.code).toBe(0)
    expect(JSON.parse(listed.stdout)).toEqual((await hub.api('GET', '/api/admin/tasks?limit=1')).body)
    expect(JSON.parse(listed.stdout).tasks[0].task_id).toBe(id)
    expect(await entry(['cancel', id])).toEqual({ code: 1, stdout: '', stderr: `agentcom: task finished: ${id} (409 task_finished)\n` })
  })

  it('every answer the verbs received fits the schema the OpenAPI document declares for it', async () => {
    const doc = await (await fetch(`${hub.url}/api/openapi.json`)).json() as { paths: Record<string, Record<string, any>> }
    const checker = createAnswerChecker(doc)
    expect(answers.length).toBeGreaterThan(30)
    expect(answers.map((a) => checker.check(a)).filter(Boolean)).toEqual([])
    expect([...new Set(answers.map((a) => a.status))]).toEqual(expect.arrayContaining([200, 201, 400, 404, 409]))
    const declared = doc.paths['/api/admin/tasks/{task_id}/output'].get.responses['200']['x-events']
    expect(Object.keys(declared)).toEqual(expect.arrayContaining(['output', 'end']))
    expect(streamed.map((e) => e.event)).toEqual(expect.arrayContaining(['output', 'end']))
    expect(streamed.map((e) => checker.checkEvent(e.path, e.event, e.data)).filter(Boolean)).toEqual([])
  })
})
