/**
 * The baseline for the hub's HTTP figures: a bare Hono app on the same server stack as the hub,
 * doing the least the hub's routes do. It imports only hono and Web APIs, so the Node and Deno
 * baselines run the same code, as the hub's two entries do.
 */
import { Hono } from 'hono'
import type { UpgradeWebSocket, WSContext } from 'hono/ws'

/**
 * The body of GET /bare/agents/:id: the shape and size of the hub's `Agent` (hub/api/views.ts
 * `agentView`) for a bench agent, field for field, so that both sides serialise the same JSON.
 */
export function sampleAgent(agentId: string) {
  return {
    agent_id: agentId, connected: true, status: 'idle', connected_at: 1_700_000_000_000, last_seen: 1_700_000_000_000,
    pm2_info: {
      name: `agentcom-${agentId}`, pm_id: 1, pid: 100_001, status: 'online', uptime_ms: 1234, restart_count: 0,
      memory_bytes: 61_000_000,
    },
    version: null, host: null, supervised: true, drained: false, quarantined: false, labels: [] as string[], task_id: null,
    stats: null, restart: null, hub_id: 'hub-00000000',
  }
}

export function createBareApp(upgradeWebSocket: UpgradeWebSocket<any>) {
  const peers = new Map<string, WSContext>()
  return new Hono()
    .get('/health', (c) => c.json({ status: 'ok' }))
    .get('/ws', upgradeWebSocket(() => {
      let agentId: string | null = null
      return {
        onMessage(event, ws) {
          if (agentId !== null) return
          agentId = String((JSON.parse(String(event.data)) as { agent_id: unknown }).agent_id)
          peers.set(agentId, ws)
          ws.send(JSON.stringify({ type: 'identified', agent_id: agentId }))
        },
        onClose() {
          if (agentId !== null) peers.delete(agentId)
        },
      }
    }))
    .get('/bare/agents/:agent_id', (c) => c.json(sampleAgent(c.req.param('agent_id'))))
    .post('/bare/agents/:agent_id/restart', (c) => {
      const agentId = c.req.param('agent_id')
      const ws = peers.get(agentId)
      if (!ws) return c.json({ error: 'agent_not_connected' }, 404)
      const restartId = crypto.randomUUID()
      ws.send(JSON.stringify({ type: 'restart_sidecar', reason: 'bench', restart_id: restartId }))
      return c.json({ status: 'restart_commanded', agent_id: agentId, restart_id: restartId })
    })
}
