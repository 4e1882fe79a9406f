/** `agentcom healing [pause | resume]` and `agentcom audit`. */
import type { HealingView } from '../../shared/api-schemas.ts'
import { ago, clockTime, paint, paintStatus, table } from './output.ts'
import { UsageError, defineVerb, wholeNumber, type VerbContext } from './verb.ts'

export const healing = defineVerb('agentcom healing [pause | resume] [--json] [--url <url>] [--token <token>]', {}, async (ctx) => {
  const [what, extra] = ctx.positionals
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`)
  if (what !== undefined && what !== 'pause' && what !== 'resume') throw new UsageError(`healing takes pause or resume, not '${what}'`)
  const view = what === 'pause' ? await ctx.client.pauseHealing() : what === 'resume' ? await ctx.client.resumeHealing() : await ctx.client.healing()
  if (ctx.json) return ctx.printJson(view)
  printHealing(ctx, view)
  return 0
})

function printHealing(ctx: VerbContext, view: HealingView): void {
  const p = view.policy
  ctx.out(`healing: ${view.paused ? paint(ctx.colour, 'yellow', 'paused') : paint(ctx.colour, 'green', 'active')}\n`)
  ctx.out(`policy:  crash limit ${p.crash_limit} in ${p.window_s} s, memory ${p.max_memory_mb === null ? 'off' : `${p.max_memory_mb} MB`}, ` +
    `${p.max_concurrent} at a time, cooldown ${p.cooldown_s} s, ${p.max_per_agent} per agent per window\n`)
  if (view.actions.length === 0) {
    ctx.out('no healing actions yet\n')
    return
  }
  const now = Date.now()
  ctx.out(table(['AT', 'AGENT', 'RULE', 'ACTION', 'STATE', 'DETAIL'], view.actions.map((a) => [
    ago(a.at, now), a.agent_id, a.rule, a.action, paintStatus(ctx.colour, a.state), a.detail,
  ]), ctx.colour))
}

export const audit = defineVerb('agentcom audit [--limit <n>] [--json] [--url <url>] [--token <token>]', { limit: { type: 'string' } }, async (ctx) => {
  if (ctx.positionals.length) throw new UsageError(`unexpected argument '${ctx.positionals[0]}'`)
  const page = await ctx.client.audit({ limit: wholeNumber(ctx.text('limit'), 'limit', 1, 1000) })
  if (ctx.json) return ctx.printJson(page)
  ctx.out(table(['AT', 'ACTOR', 'ACTION', 'TARGET', 'STATUS'], page.records.map((r) => [
    clockTime(r.at), 'name' in r.actor ? `${r.actor.name} (${r.actor.role})` : `join ${r.actor.join_jti}`, r.action, r.target ?? '-', String(r.status),
  ]), ctx.colour))
  return 0
})
