/**
 * `agentcom events`: follows the hub's events stream, one line per event, until stopped.
 * A stream that ends or breaks (hub restarted, network) is opened again with `Last-Event-ID`,
 * so the hub replays what was missed, or says `reset` when it cannot.
 */
import type { SseEvent } from './sse.ts'
import { ApiError } from './client.ts'
import { clockTime, paint, paintStatus } from './output.ts'
import { defineVerb, pause, positionals, type VerbContext } from './verb.ts'

/** Reconnect backoff: from the first to the last, doubling. */
const RETRY_MS = { first: 250, max: 5000 } as const

export const events = defineVerb('agentcom events [--json] [--url <url>] [--token <token>]', {}, async (ctx) => {
  positionals(ctx)
  const signal = ctx.io.signal
  let lastEventId: string | null = null
  let retryMs: number = RETRY_MS.first
  while (!signal?.aborted) {
    try {
      for await (const event of await ctx.client.events(lastEventId, signal)) {
        if (event.id) lastEventId = event.id
        retryMs = RETRY_MS.first
        ctx.out(ctx.json ? `${JSON.stringify({ event: event.event, id: event.id, data: parseData(event.data) })}\n` : describeEvent(ctx, event))
      }
      if (signal?.aborted) break
      ctx.io.stderr.write(`agentcom: the events stream ended; reconnecting${lastEventId ? ` from ${lastEventId}` : ''}\n`)
    } catch (err) {
      if (signal?.aborted) break
      // A refused token or a hub without the route will not get better by asking again.
      if (err instanceof ApiError && err.status >= 400 && err.status < 500) throw err
      ctx.io.stderr.write(`agentcom: ${err instanceof ApiError ? err.message : `the events stream broke (${(err as Error).message})`}; reconnecting in ${retryMs} ms\n`)
      await pause(retryMs, signal)
      retryMs = Math.min(retryMs * 2, RETRY_MS.max)
    }
  }
  return 0
})

function parseData(data: string): unknown {
  try {
    return JSON.parse(data)
  } catch {
    return data
  }
}

/** One line for people: when, what, and the fields that say most about it. */
function describeEvent(ctx: VerbContext, event: SseEvent): string {
  const d = parseData(event.data) as Record<string, any>
  const what = (() => {
    switch (event.event) {
      case 'agent': return `${d.agent_id} ${paintStatus(ctx.colour, d.status)}${d.restart ? ` restart ${d.restart.state}` : ''}`
      case 'task': return `${d.task_id} ${paintStatus(ctx.colour, d.status)}${d.agent_id ? ` on ${d.agent_id}` : ''}`
      case 'rollout': return `${d.rollout_id} ${paintStatus(ctx.colour, d.state)}`
      case 'healing': return `${d.agent_id} ${d.rule} ${d.action} ${d.state}: ${d.detail}`
      case 'audit': return `${d.actor?.name ?? d.actor?.join_jti ?? '-'} ${d.action} ${d.target ?? ''} ${d.status}`
      case 'reset': return 'the hub could not replay what was missed: read the current state again'
      default: return event.data
    }
  })()
  return `${paint(ctx.colour, 'dim', clockTime(Date.now()))} ${paint(ctx.colour, 'bold', event.event.padEnd(7))} ${what}\n`
}
