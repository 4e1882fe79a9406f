/**
 * `POST /api/admin/rollouts` with `labels`: the agents a rollout restarts are those it would
 * take anyway (`agent_ids`, else every connected agent under pm2) that carry every label. Read
 * through the admin backend, so one hub and a cluster select alike.
 */
import type { AdminBackend } from '../api/admin.ts'

export async function rolloutAgents(admin: AdminBackend, agentIds: string[] | undefined, labels: string[] | undefined): Promise<string[] | undefined> {
  if (labels === undefined) return agentIds
  const { agents } = await admin.listAgents({}, labels)
  const matching = new Set(agents.filter((a) => agentIds !== undefined || (a.connected && a.supervised)).map((a) => a.agent_id))
  return (agentIds ?? [...matching].sort()).filter((id) => matching.has(id))
}
