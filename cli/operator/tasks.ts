/** `agentcom run`, `tasks`, `task`, `cancel` and `logs`. */
import type { OutputChunk, Task } from '../../shared/api-schemas.ts'
import { ApiError } from './client.ts'
import { chunkWriter } from './chunks.ts'
import { ago, paintStatus, progressLine, table } from './output.ts'
import { Failed, POLL_MS, UsageError, defineVerb, pause, positionals, wholeNumber, type VerbContext } from './verb.ts'

const COMMON_FLAGS = '[--url <url>] [--token <token>]'
const FINAL = new Set(['completed', 'failed', 'cancelled'])
export const TASK_COLUMNS = ['TASK', 'STATUS', 'AGENT', 'ATTEMPTS', 'CREATED', 'UPDATED'] as const

export const run = defineVerb(
  `agentcom run [--agent <id> | --label <l>... | --all] [--input <json>] [--timeout-ms <n>] [--retries <n>] [--wait | --follow] [--json] ${COMMON_FLAGS}`,
  {
    agent: { type: 'string' }, label: { type: 'string', multiple: true }, all: { type: 'boolean' }, input: { type: 'string' },
    'timeout-ms': { type: 'string' }, retries: { type: 'string' }, wait: { type: 'boolean' }, follow: { type: 'boolean' },
  },
  async (ctx) => {
    positionals(ctx)
    const labels = ctx.list('label')
    if (ctx.text('agent') !== undefined && (labels.length || ctx.flag('all'))) throw new UsageError('--agent goes with neither --label nor --all')
    if (ctx.flag('wait') && ctx.flag('follow')) throw new UsageError('--wait or --follow, not both')
    let input: unknown = {}
    const text = ctx.text('input')
    if (text !== undefined) {
      try {
        input = JSON.parse(text)
      } catch {
        throw new UsageError('--input must be JSON, e.g. --input \'{"sleep_ms": 100}\'')
      }
    }
    const answer = await ctx.client.createTask({
      input,
      agent_id: ctx.text('agent'),
      labels: labels.length ? labels : undefined,
      all: ctx.flag('all') || undefined,
      timeout_ms: wholeNumber(ctx.text('timeout-ms'), 'timeout-ms', 1, 86_400_000),
      retries: wholeNumber(ctx.text('retries'), 'retries', 0, 10),
    })
    // A hub older than task control ignores `all` and creates one task: say so, not succeed.
    if (ctx.flag('all') && !('tasks' in answer)) throw new Failed(`this hub does not know --all: it created one task, ${answer.task_id}`)
    const created = 'tasks' in answer ? answer.tasks : [answer]
    if (created.length === 0 && !ctx.json) ctx.out('no agent matches: no task created\n')
    if (!ctx.flag('wait') && !ctx.flag('follow')) {
      if (ctx.json) return ctx.printJson(answer)
      for (const t of created) ctx.out(`task ${t.task_id} ${t.status}${t.agent_id ? ` for ${t.agent_id}` : ''}\n`)
      return 0
    }
    const prefix = created.length > 1
    const finals = await Promise.all(created.map((t) => (ctx.flag('follow') ? follow(ctx, t, prefix) : waitForTask(ctx, t.task_id))))
    if (ctx.json) ctx.printJson('tasks' in answer ? { tasks: finals } : finals[0])
    else for (const t of finals) ctx.out(describeTask(t, ctx.colour))
    return finals.every((t) => t.status === 'completed') ? 0 : 1
  },
)

/** Reads a task until it is over; a progress line while it runs. */
async function waitForTask(ctx: VerbContext, taskId: string): Promise<Task> {
  const line = progressLine(ctx.io.stderr)
  try {
    for (;;) {
      const t = await ctx.client.getTask(taskId)
      if (FINAL.has(t.status)) return t
      line.update(`task ${taskId}: ${t.status}${t.agent_id ? ` on ${t.agent_id}` : ''}, attempt ${Math.max(1, t.attempts)}`)
      await pause(POLL_MS, ctx.io.signal)
      if (ctx.io.signal?.aborted) throw new Failed(`stopped waiting for task ${taskId} (it goes on)`)
    }
  } finally {
    line.done()
  }
}

/**
 * Streams a task's output while it runs, then its final Task. A hub without the output route
 * (404 `not_found`, older than task control) is waited on instead.
 */
async function follow(ctx: VerbContext, task: Task, prefix: boolean): Promise<Task> {
  let events
  try {
    events = await ctx.client.followTaskOutput(task.task_id, ctx.io.signal)
  } catch (err) {
    if (err instanceof ApiError && err.status === 404 && err.code === 'not_found') return waitForTask(ctx, task.task_id)
    throw err
  }
  const output = chunkWriter(ctx.io, prefix ? task.task_id.slice(0, 8) : null)
  try {
    for await (const event of events) {
      if (event.event === 'output') output.write(JSON.parse(event.data) as OutputChunk)
      else if (event.event === 'end') return JSON.parse(event.data) as Task
    }
  } finally {
    // The result is printed next: on a line of its own, not after output that left one open.
    output.end()
  }
  // The stream ended without `end` (hub gone, stopped): the task as it is now.
  return ctx.io.signal?.aborted ? ctx.client.getTask(task.task_id) : waitForTask(ctx, task.task_id)
}

function describeTask(t: Task, colour: boolean): string {
  const head = `task ${t.task_id} ${paintStatus(colour, t.status)}${t.agent_id ? ` on ${t.agent_id}` : ''} after ${t.attempts} attempt${t.attempts === 1 ? '' : 's'}`
  if (t.status === 'completed') return `${head}: ${JSON.stringify(t.result)}\n`
  return `${head}${t.error ? `: ${t.error}` : ''}\n`
}

export const tasks = defineVerb(
  `agentcom tasks [--status <s>] [--agent <id>] [--limit <n>] [--json] ${COMMON_FLAGS}`,
  { status: { type: 'string' }, agent: { type: 'string' }, limit: { type: 'string' } },
  async (ctx) => {
    positionals(ctx)
    const page = await ctx.client.listTasks({ status: ctx.text('status'), agent_id: ctx.text('agent'), limit: wholeNumber(ctx.text('limit'), 'limit', 1, 1000) })
    if (ctx.json) return ctx.printJson(page)
    const now = Date.now()
    ctx.out(table(TASK_COLUMNS, page.tasks.map((t) => [
      t.task_id, paintStatus(ctx.colour, t.status), t.agent_id ?? '-', String(t.attempts), ago(t.created_at, now), ago(t.updated_at, now),
    ]), ctx.colour))
    return 0
  },
)

export const task = defineVerb(`agentcom task <id> [--json] ${COMMON_FLAGS}`, {}, async (ctx) => {
  const [id] = positionals(ctx, 'id')
  const t = await ctx.client.getTask(id)
  if (ctx.json) return ctx.printJson(t)
  const now = Date.now()
  ctx.out([
    `task:      ${t.task_id}`,
    `status:    ${paintStatus(ctx.colour, t.status)}`,
    `agent:     ${t.agent_id ?? '-'}`,
    `attempts:  ${t.attempts}`,
    `input:     ${JSON.stringify(t.input)}`,
    `result:    ${t.status === 'completed' ? JSON.stringify(t.result) : '-'}`,
    `error:     ${t.error ?? '-'}`,
    `created:   ${ago(t.created_at, now)}`,
    `updated:   ${ago(t.updated_at, now)}`,
  ].join('\n') + '\n')
  return 0
})

export const cancel = defineVerb(`agentcom cancel <task_id> [--json] ${COMMON_FLAGS}`, {}, async (ctx) => {
  const [id] = positionals(ctx, 'task_id')
  const t = await ctx.client.cancelTask(id)
  if (ctx.json) return ctx.printJson(t)
  ctx.out(`task ${id} ${t.status}\n`)
  return 0
})

export const logs = defineVerb(`agentcom logs <task_id> [--follow] [--json] ${COMMON_FLAGS}`, { follow: { type: 'boolean' } }, async (ctx) => {
  const [id] = positionals(ctx, 'task_id')
  if (!ctx.flag('follow')) {
    const answer = await ctx.client.taskOutput(id)
    if (ctx.json) return ctx.printJson(answer)
    if (answer.truncated) ctx.io.stderr.write('agentcom: older output was dropped (the hub keeps the last 1 MiB)\n')
    const output = chunkWriter(ctx.io, null)
    for (const chunk of answer.output) output.write(chunk)
    return 0
  }
  const final = await followLogs(ctx, id)
  return final === null || final.status === 'completed' ? 0 : 1
})

async function followLogs(ctx: VerbContext, id: string): Promise<Task | null> {
  const output = chunkWriter(ctx.io, null)
  for await (const event of await ctx.client.followTaskOutput(id, ctx.io.signal)) {
    if (ctx.json) ctx.printJson({ event: event.event, id: event.id, data: JSON.parse(event.data) })
    else if (event.event === 'output') output.write(JSON.parse(event.data) as OutputChunk)
    if (event.event === 'end') return JSON.parse(event.data) as Task
  }
  return null
}
