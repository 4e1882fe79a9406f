/** Node's part of GET /metrics: the runtime, AgentCom's version and the process's resident memory. */
import type { ProcessMetrics } from '../metrics/hub-metrics.ts'
// The version the build baked in (the installed package has no package.json beside its chunks),
// else the repository's package.json: the one a sidecar reports at identify.
import { AGENTCOM_VERSION } from '../../sidecar/version.ts'

export function nodeProcessMetrics(): ProcessMetrics {
  return {
    runtime: `node ${process.versions.node}`,
    version: AGENTCOM_VERSION,
    residentMemoryBytes: () => process.memoryUsage.rss(),
  }
}
