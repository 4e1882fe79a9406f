/** Node's part of GET /metrics: the runtime, AgentCom's version and the process's resident memory. */
import { readFileSync } from 'node:fs'
import type { ProcessMetrics } from '../metrics/hub-metrics.ts'

export function nodeProcessMetrics(): ProcessMetrics {
  return {
    runtime: `node ${process.versions.node}`,
    version: agentcomVersion(),
    residentMemoryBytes: () => process.memoryUsage.rss(),
  }
}

function agentcomVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }
    return typeof pkg.version === 'string' ? pkg.version : 'unknown'
  } catch {
    return 'unknown' // run from a copy without its package.json: the metric still says which runtime
  }
}
