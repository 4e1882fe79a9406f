/**
 * A real hub process and a fleet of real sidecars under a real pm2 (temporary PM2_HOME), each
 * identified and idle: what the dashboard test drives and the screenshot shows. `stop()` kills
 * the pm2 daemon with its sidecars, then the hub.
 */
import { startHubProcess, type HubProcess, type Runtime } from './hub-process.ts'
import { createPm2Sandbox, type Pm2Sandbox } from './pm2.ts'
import { waitFor } from './wait.ts'

export interface DemoFleet {
  hub: HubProcess
  pm2: Pm2Sandbox
  stop(): Promise<void>
}

export async function startDemoFleet(
  agentIds: readonly string[], hubEnv: Record<string, string> = {}, runtime?: Runtime, sidecarEnv: Record<string, string> = {},
): Promise<DemoFleet> {
  const hub = await startHubProcess(hubEnv, runtime)
  let pm2: Pm2Sandbox | null = null
  const stop = async () => {
    try {
      await pm2?.kill()
    } finally {
      await hub.stop()
    }
  }
  try {
    pm2 = await createPm2Sandbox()
    for (const id of agentIds) {
      await pm2.startSidecar(id, { ...sidecarEnv, AGENTCOM_HUB_URL: hub.wsUrl, AGENTCOM_TOKEN: await hub.agentToken(id) })
    }
    for (const id of agentIds) {
      await waitFor(async () => (await hub.api('GET', `/api/admin/agents/${id}`)).body, (a) => a.status === 'idle',
        { what: `${id} idle`, timeoutMs: 40_000 })
    }
    return { hub, pm2, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
