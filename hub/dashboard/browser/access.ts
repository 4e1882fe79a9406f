/**
 * Who is signed in (GET /api/admin/whoami), the actions the role may use, and the activity panel
 * (the audit trail: GET /api/admin/audit, then `event: audit`). An action's controls show only
 * while the body has its `may-<action>` class, set from the route keys whoami answers: until
 * then, and for a role below the route's, they are not shown at all (hub/dashboard/style.ts).
 */
import type { AuditPage, AuditRecord } from '../../../shared/api-schemas.ts'
import { DASHBOARD_ACTIONS } from './actions.ts'
import { $, el } from './dom.ts'
import { formatAgo, formatTime } from './format.ts'
import { api, currentSession, ignoreUnauthorized } from './session.ts'

const MAX_ACTIVITY = 50
/** Newest first. */
let activity: AuditRecord[] = []

interface WhoAmI { name: string; role: string; routes: string[] }

function setAllowed(routes: readonly string[]): void {
  const allowed = new Set(routes)
  for (const [action, route] of Object.entries(DASHBOARD_ACTIONS)) document.body.classList.toggle(`may-${action}`, allowed.has(route))
}

export async function loadAccess(): Promise<void> {
  const mine = currentSession()
  setAllowed([])
  try {
    const res = await api<WhoAmI | null>('GET', '/api/admin/whoami')
    if (mine !== currentSession() || res.status !== 200 || !res.body || !Array.isArray(res.body.routes)) return
    setAllowed(res.body.routes)
    const who = $('whoami')
    who.replaceChildren(el('strong', '', String(res.body.name)), document.createTextNode(` · ${String(res.body.role)}`))
    who.title = `Signed in as ${res.body.name} with the ${res.body.role} role`
    who.hidden = false
  } catch (err) {
    ignoreUnauthorized(err)
  }
}

export async function loadActivity(): Promise<void> {
  const mine = currentSession()
  try {
    const res = await api<AuditPage | null>('GET', `/api/admin/audit?limit=${MAX_ACTIVITY}`)
    if (mine !== currentSession() || res.status !== 200 || !res.body || !Array.isArray(res.body.records)) return
    activity = res.body.records.slice(0, MAX_ACTIVITY)
    renderActivity()
  } catch (err) {
    ignoreUnauthorized(err)
  }
}

export function activitySeen(record: AuditRecord): void {
  activity = [record, ...activity.filter((r) => r.audit_id !== record.audit_id)].slice(0, MAX_ACTIVITY)
  renderActivity()
}

function renderActivity(): void {
  const now = Date.now()
  const rows = activity.map((r) => {
    const tr = el('tr')
    const at = el('td', 'seen', formatAgo(r.at, now))
    at.title = formatTime(r.at)
    tr.appendChild(at)
    const who = r.actor && 'name' in r.actor && r.actor.name ? `${r.actor.name} (${r.actor.role})` : 'enrollment'
    tr.appendChild(el('td', '', who))
    tr.appendChild(el('td', 'mono', String(r.action)))
    tr.appendChild(el('td', 'mono', r.target === null || r.target === undefined ? '—' : String(r.target)))
    tr.appendChild(el('td', `num${r.status >= 400 ? ' refused' : ''}`, String(r.status)))
    return tr
  })
  $('activity-body').replaceChildren(...rows)
  $('activity-empty').hidden = activity.length > 0
}

/** Sign-out: no role, no name, no activity left on the page. */
export function clearAccess(): void {
  setAllowed([])
  $('whoami').hidden = true
  $('whoami').replaceChildren()
  activity = []
  renderActivity()
}
