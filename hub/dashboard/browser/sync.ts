/**
 * Keeping the page in step with the hub: a snapshot of everything, then the events stream (or,
 * on a hub without one, polling). Events that arrive during a snapshot wait and are applied
 * after it, in order: each carries a whole view, so the last one for an agent is the newest state.
 */
import type { Agent, AgentList, AuditRecord, HealingAction, Rollout, Task } from '../../../shared/api-schemas.ts'
import { activitySeen, loadActivity } from './access.ts'
import type { Charts, MetricsHistory } from './charts.ts'
import type { FleetView } from './fleet-view.ts'
import { loadHealing, refreshRollouts } from './panel-actions.ts'
import { api, currentSession, errorText, Unauthorized } from './session.ts'
import { healingSeen, rolloutSeen, taskSeen } from './side-panels.ts'
import type { ParsedEvent } from './sse-parser.ts'
import { loadTasks } from './task-view.ts'
import { setConn, showBanner } from './ui.ts'

const POLL_MS = 10_000
const SNAPSHOT_RETRY_MS = 5000

export type Sync = ReturnType<typeof createSync>

export function createSync({ fleet, charts }: { fleet: FleetView; charts: Charts }) {
  let snapshotting = false
  let snapshotAgain = false
  let queued: ParsedEvent[] = []
  let pollTimer: ReturnType<typeof setInterval> | undefined

  /** What the charts start from; a hub without it (or failing) leaves them to the events. */
  async function loadHistory(): Promise<void> {
    try {
      const res = await api<MetricsHistory | null>('GET', '/api/admin/metrics/history')
      if (res.status === 200) charts.load(res.body)
    } catch {
      // The charts keep what the events gave them; the next history load tries again.
    }
  }

  /** Every agent, page by page when the hub pages (next_cursor), else in one answer. */
  async function loadAgents(): Promise<Agent[]> {
    let all: Agent[] = []
    const seen = new Set<string>()
    let cursor: string | null = null
    for (;;) {
      const path: string = `/api/admin/agents?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
      const res = await api<AgentList | null>('GET', path)
      if (res.status !== 200 || !res.body || !Array.isArray(res.body.agents)) throw new Error(`agents: ${errorText(res)}`)
      all = all.concat(res.body.agents)
      const next = res.body.next_cursor
      if (typeof next !== 'string' || !next || seen.has(next)) return all
      seen.add(next)
      cursor = next
    }
  }

  /** Everything from scratch. */
  function snapshot(): void {
    if (snapshotting) { snapshotAgain = true; return }
    snapshotting = true
    queued = []
    const mine = currentSession()
    Promise.all([loadAgents(), loadHealing(), loadHistory(), loadTasks()]).then(([agents]) => {
      if (mine !== currentSession()) return
      agents.forEach(charts.agentSeen)
      fleet.replaceAll(agents)
      charts.statusesNow(fleet.counts())
      refreshRollouts()
    }).catch((err: unknown) => {
      if (mine !== currentSession()) return
      if (!(err instanceof Unauthorized)) showBanner(`Could not load the fleet: ${err instanceof Error && err.message ? err.message : String(err)}. Retrying.`)
      setTimeout(() => { if (mine === currentSession()) snapshot() }, SNAPSHOT_RETRY_MS)
    }).then(() => {
      if (mine !== currentSession()) return
      snapshotting = false
      const events = queued
      queued = []
      events.forEach(applyEvent)
      if (snapshotAgain) { snapshotAgain = false; snapshot() }
    })
  }

  function applyEvent(e: ParsedEvent): void {
    if (snapshotting && e.event !== 'reset') { queued.push(e); return }
    let data
    try { data = JSON.parse(e.data) } catch { return } // not ours to show; the next event carries the state again
    if (e.event === 'agent') { charts.agentSeen(data as Agent); fleet.upsert(data as Agent); charts.statusesNow(fleet.counts()) }
    else if (e.event === 'task' && data && data.task_id) { taskSeen(data as Task); charts.taskSeen(data as Task) }
    else if (e.event === 'rollout' && data && data.rollout_id) rolloutSeen(data as Rollout)
    else if (e.event === 'healing' && data && data.action_id) healingSeen(data as HealingAction)
    else if (e.event === 'audit' && data && data.audit_id) activitySeen(data as AuditRecord)
    else if (e.event === 'reset') { snapshot(); void loadActivity() }
  }

  /** A hub without the events stream: a snapshot every POLL_MS instead. */
  function startPolling(): void {
    setConn('polling', `Polling every ${POLL_MS / 1000} s`)
    const mine = currentSession()
    snapshot()
    pollTimer = setInterval(() => { if (mine === currentSession() && !snapshotting) snapshot() }, POLL_MS)
  }

  /** Sign-out: stop polling and drop what waits. */
  function stop(): void {
    clearInterval(pollTimer)
    snapshotting = false
    queued = []
  }

  return { snapshot, applyEvent, startPolling, loadHistory, stop }
}
