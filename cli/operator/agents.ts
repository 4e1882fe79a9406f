/** `agentcom agents`, `agent`, `restart`, `drain` and `resume`. */
import type { Agent } from '../../shared/api-schemas.ts'
import { ago, duration, mib, paint, paintStatus, progressLine, table } from './output.ts'
import { Failed, POLL_MS, UsageError, defineVerb, pause, positionals, wholeNumber, type VerbContext } from './verb.ts'

const COMMON_FLAGS = '[--url <url>] [--token <token>]'
export const AGENT_COLUMNS = ['AGENT', 'STATUS', 'RESTARTS', 'MEMORY', 'TASK', 'VERSION', 'LAST SEEN'] as const

export const agents = defineVerb(
  `agentcom agents [--status <s>] [--label <l>]... [--json] ${COMMON_FLAGS}`,
  { status: { type: 'string' }, label: { type: 'string', multiple: true } },
  async (ctx) => {
    positionals(ctx)
    const answer = await ctx.client.listAgents({ status: ctx.text('status'), label: ctx.list('label') })
    if (ctx.json) return ctx.printJson(answer)
    const now = Date.now()
    ctx.out(table(AGENT_COLUMNS, answer.agents.map((a) => agentRow(a, now, ctx.colour)), ctx.colour))
    return 0
  },
)

/** One row of `agentcom agents`: what `pm2 ls` shows of a process, for an agent. */
export function agentRow(a: Agent, now: number, colour: boolean): string[] {
  const flags = [a.quarantined ? 'quarantined' : a.drained ? 'drained' : null].filter(Boolean)
  return [
    a.agent_id,
    paintStatus(colour, a.status) + (flags.length ? paint(colour, 'yellow', ` (${flags.join(', ')})`) : ''),
    a.pm2_info ? String(a.pm2_info.restart_count) : '-',
    mib(a.stats?.rss_bytes ?? a.pm2_info?.memory_bytes),
    a.task_id ?? '-',
    a.version ?? '-',
    ago(a.last_seen, now),
  ]
}

export const agent = defineVerb(`agentcom agent <id> [--json] ${COMMON_FLAGS}`, {}, async (ctx) => {
  const [id] = positionals(ctx, 'id')
  const a = await ctx.client.getAgent(id)
  if (ctx.json) return ctx.printJson(a)
  const now = Date.now()
  const r = a.restart
  const rows: [string, string][] = [
    ['agent', a.agent_id],
    ['status', agentRow(a, now, ctx.colour)[1]],
    ['connected', a.connected ? `yes, since ${ago(a.connected_at, now)} (hub ${a.hub_id})` : 'no'],
    ['last seen', ago(a.last_seen, now)],
    ['pm2', a.pm2_info ? `${a.pm2_info.name} (id ${a.pm2_info.pm_id}, pid ${a.pm2_info.pid ?? '-'}, ${a.pm2_info.status}, ${a.pm2_info.restart_count} restarts)` : a.supervised ? '-' : 'not under pm2'],
    ['memory', mib(a.stats?.rss_bytes ?? a.pm2_info?.memory_bytes)],
    ['task', a.task_id ?? '-'],
    ['version', a.version ?? '-'],
    ['host', a.host ? `${a.host.hostname} (${a.host.platform} ${a.host.arch}, node ${a.host.node_version})` : '-'],
    ['labels', a.labels?.length ? a.labels.join(', ') : '-'],
    ['restart', r ? `${paintStatus(ctx.colour, r.state)} ${r.restart_id} (${r.reason}, ${ago(r.requested_at, now)})${r.error ? `: ${r.error}` : ''}` : '-'],
  ]
  ctx.out(rows.map(([k, v]) => `${`${k}:`.padEnd(11)}${v}\n`).join(''))
  return 0
})

export const restart = defineVerb(
  `agentcom restart <id> [--force] [--deadline <s>] [--reason <r>] [--wait] [--json] ${COMMON_FLAGS}`,
  { force: { type: 'boolean' }, deadline: { type: 'string' }, reason: { type: 'string' }, wait: { type: 'boolean' } },
  async (ctx) => {
    const [id] = positionals(ctx, 'id')
    if (ctx.flag('force') && ctx.text('deadline') !== undefined) throw new UsageError('--force and --deadline do not go together (a deadline is for a graceful restart)')
    const answer = await ctx.client.restart(id, {
      reason: ctx.text('reason'), mode: ctx.flag('force') ? 'force' : undefined, deadline_s: wholeNumber(ctx.text('deadline'), 'deadline', 0, 86_400),
    })
    if (!ctx.flag('wait')) {
      if (ctx.json) return ctx.printJson(answer)
      ctx.out(`restart ${answer.restart_id} of ${id} ${answer.already_pending ? 'already pending' : 'commanded'} (${answer.mode}, ${answer.reason})\n`)
      return 0
    }
    const final = await waitForRestart(ctx, id, answer.restart_id)
    if (ctx.json) ctx.printJson(final)
    const r = final.restart!
    if (r.state !== 'completed') throw new Failed(`restart ${r.restart_id} of ${id} ${r.state}${r.error ? `: ${r.error}` : ''}`)
    if (!ctx.json) ctx.out(`restart ${r.restart_id} of ${id} completed: ${final.pm2_info ? `pm2 restart count ${final.pm2_info.restart_count}` : 'back'}\n`)
    return 0
  },
)

/** Reads the agent until its restart `restartId` is over, with a progress line. */
async function waitForRestart(ctx: VerbContext, id: string, restartId: string): Promise<Agent> {
  const line = progressLine(ctx.io.stderr)
  const started = Date.now()
  try {
    for (;;) {
      const a = await ctx.client.getAgent(id)
      const state = a.restart?.restart_id === restartId ? a.restart.state : 'replaced'
      if (state === 'completed' || state === 'failed') return a
      if (state === 'replaced') throw new Failed(`restart ${restartId} of ${id} was replaced by another (${a.restart?.restart_id ?? 'none'})`)
      line.update(`${id}: restart ${state}, agent ${a.status}, ${duration(Date.now() - started)}`)
      await pause(POLL_MS, ctx.io.signal)
      if (ctx.io.signal?.aborted) throw new Failed(`stopped waiting for restart ${restartId} of ${id}`)
    }
  } finally {
    line.done()
  }
}

const drainOrResume = (what: 'drain' | 'resume') => defineVerb(`agentcom ${what} <id> [--json] ${COMMON_FLAGS}`, {}, async (ctx) => {
  const [id] = positionals(ctx, 'id')
  const a = what === 'drain' ? await ctx.client.drain(id) : await ctx.client.resume(id)
  if (ctx.json) return ctx.printJson(a)
  ctx.out(`${id} ${what === 'drain' ? 'drained: it keeps its running task but gets no new one' : 'resumed: it takes tasks again'}\n`)
  return 0
})

export const drain = drainOrResume('drain')
export const resume = drainOrResume('resume')
