/** Deno's part of GET /metrics: the runtime, AgentCom's version and the process's resident memory. */
import type { ProcessMetrics } from '../metrics/hub-metrics.ts'

export function denoProcessMetrics(): ProcessMetrics {
  return {
    runtime: `deno ${Deno.version.deno}`,
    version: agentcomVersion(),
    residentMemoryBytes: () => Deno.memoryUsage().rss,
  }
}

function agentcomVersion(): string {
  try {
    const pkg = JSON.parse(Deno.readTextFileSync(new URL('../../package.json', import.meta.url))) as { version?: unknown }
    return typeof pkg.version === 'string' ? pkg.version : 'unknown'
  } catch {
    return 'unknown' // run from a copy without its package.json: the metric still says which runtime
  }
}
