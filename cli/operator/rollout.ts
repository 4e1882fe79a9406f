/** `agentcom rollout [--watch]` and `agentcom rollout cancel <rollout_id>`. */
import type { Rollout } from '../../shared/api-schemas.ts'
import { duration, paintStatus, progressLine } from './output.ts'
import { Failed, POLL_MS, defineVerb, pause, positionals, wholeNumber, type VerbContext } from './verb.ts'

const USAGE = 'agentcom rollout [--max-unavailable <n>] [--label <l>]... [--reason <r>] [--watch] [--json] | agentcom rollout cancel <rollout_id>'

export const rollout = defineVerb(
  `${USAGE} [--url <url>] [--token <token>]`,
  { 'max-unavailable': { type: 'string' }, label: { type: 'string', multiple: true }, reason: { type: 'string' }, watch: { type: 'boolean' } },
  async (ctx) => {
    if (ctx.positionals[0] === 'cancel') {
      const [, id] = positionals(ctx, 'cancel', 'rollout_id')
      const cancelled = await ctx.client.cancelRollout(id)
      if (ctx.json) return ctx.printJson(cancelled)
      ctx.out(`rollout ${id} ${cancelled.state}: ${summary(cancelled)}\n`)
      return 0
    }
    positionals(ctx)
    const labels = ctx.list('label')
    const created = await ctx.client.createRollout({
      max_unavailable: wholeNumber(ctx.text('max-unavailable'), 'max-unavailable', 1),
      labels: labels.length ? labels : undefined,
      reason: ctx.text('reason'),
    })
    if (!ctx.flag('watch')) {
      if (ctx.json) return ctx.printJson(created)
      ctx.out(`rollout ${created.rollout_id} started: ${created.agents.length} agent${created.agents.length === 1 ? '' : 's'}, at most ${created.max_unavailable} at a time\n`)
      return 0
    }
    if (!ctx.json) ctx.out(`rollout ${created.rollout_id}: ${created.agents.length} agent${created.agents.length === 1 ? '' : 's'}, at most ${created.max_unavailable} at a time\n`)
    const final = await watch(ctx, created)
    if (ctx.json) ctx.printJson(final)
    else ctx.out(`rollout ${final.rollout_id} ${paintStatus(ctx.colour, final.state)}: ${summary(final)}${final.error ? ` (${final.error})` : ''}\n`)
    if (final.state !== 'completed') throw new Failed(`rollout ${final.rollout_id} ${final.state}`)
    return 0
  },
)

/** Reads the rollout until it is over, with a live progress line. */
async function watch(ctx: VerbContext, started: Rollout): Promise<Rollout> {
  const line = progressLine(ctx.io.stderr)
  const since = Date.now()
  let r = started
  try {
    while (r.state === 'running') {
      line.update(`rollout ${r.rollout_id}: ${summary(r)}, ${duration(Date.now() - since)}`)
      await pause(POLL_MS, ctx.io.signal)
      if (ctx.io.signal?.aborted) throw new Failed(`stopped watching rollout ${r.rollout_id} (it goes on)`)
      r = await ctx.client.getRollout(r.rollout_id)
    }
    return r
  } finally {
    line.done()
  }
}

/** "3/5 completed, 1 restarting, 1 waiting". */
function summary(r: Rollout): string {
  const counts = new Map<string, number>()
  for (const a of r.agents) counts.set(a.state, (counts.get(a.state) ?? 0) + 1)
  const done = counts.get('completed') ?? 0
  counts.delete('completed')
  return [`${done}/${r.agents.length} completed`, ...[...counts].map(([state, n]) => `${n} ${state}`)].join(', ')
}
