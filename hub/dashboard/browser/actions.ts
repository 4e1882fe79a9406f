/**
 * Each dashboard action and the route (a key of the route table, hub/access/route-roles.ts) it
 * calls: an action's controls show only while whoami lists its route (access.ts). Shared with
 * the hub's tests, which hold it to the route table.
 */
export const DASHBOARD_ACTIONS = {
  restart: 'POST /api/admin/agents/:agent_id/restart',
  drain: 'POST /api/admin/agents/:agent_id/drain',
  resume: 'POST /api/admin/agents/:agent_id/resume',
  rollout: 'POST /api/admin/rollouts',
  'cancel-rollout': 'POST /api/admin/rollouts/:rollout_id/cancel',
  healing: 'POST /api/admin/healing/pause',
} as const
