/**
 * Browser code, as a string: who is signed in (GET /api/admin/whoami), the actions the role may
 * use, and the activity panel (the audit trail: GET /api/admin/audit, then `event: audit`). An
 * action's controls show only while the body has its `may-<action>` class, set from the route
 * keys whoami answers, which come from the route table (hub/access/route-roles.ts): until then,
 * and for a role below the route's, they are not shown at all. Runs in client.ts's scope.
 */

/** Each dashboard action and the route (a key of the route table) it calls. */
export const DASHBOARD_ACTIONS = {
  restart: 'POST /api/admin/agents/:agent_id/restart',
  drain: 'POST /api/admin/agents/:agent_id/drain',
  resume: 'POST /api/admin/agents/:agent_id/resume',
  rollout: 'POST /api/admin/rollouts',
  'cancel-rollout': 'POST /api/admin/rollouts/:rollout_id/cancel',
  healing: 'POST /api/admin/healing/pause',
} as const

/** Hidden unless the role may: the controls are drawn by other code at any time, CSS catches them all. */
export const ACCESS_CSS = `
body:not(.may-restart) button[data-action="restart"],
body:not(.may-drain) button[data-action="drain"],
body:not(.may-resume) button[data-action="resume"],
body:not(.may-cancel-rollout) button[data-action="cancel-rollout"],
body:not(.may-rollout) #rollout-form,
body:not(.may-healing) #healing-toggle { display: none !important; }
.whoami { font-size: .9rem; color: var(--muted); margin-left: auto; }
.whoami:not([hidden]) + #sign-out { margin-left: .75rem; }
.whoami strong { color: var(--text); }
`

export const ACCESS_JS = String.raw`
var DASHBOARD_ACTIONS = ${JSON.stringify(DASHBOARD_ACTIONS)}
var MAX_ACTIVITY = 50
var activity = []

function setAllowed(routes) {
  var allowed = {}
  for (var i = 0; i < routes.length; i++) allowed[routes[i]] = true
  for (var action in DASHBOARD_ACTIONS) document.body.classList.toggle('may-' + action, allowed[DASHBOARD_ACTIONS[action]] === true)
}

function loadAccess() {
  var mine = session
  setAllowed([])
  return api('GET', '/api/admin/whoami').then(function (res) {
    if (mine !== session || res.status !== 200 || !res.body || !Array.isArray(res.body.routes)) return
    setAllowed(res.body.routes)
    var who = $('whoami')
    who.replaceChildren(el('strong', '', String(res.body.name)), document.createTextNode(' · ' + String(res.body.role)))
    who.title = 'Signed in as ' + res.body.name + ' with the ' + res.body.role + ' role'
    who.hidden = false
  }).catch(ignoreUnauthorized)
}

function loadActivity() {
  var mine = session
  return api('GET', '/api/admin/audit?limit=' + MAX_ACTIVITY).then(function (res) {
    if (mine !== session || res.status !== 200 || !res.body || !Array.isArray(res.body.records)) return
    activity = res.body.records.slice(0, MAX_ACTIVITY)
    renderActivity()
  }).catch(ignoreUnauthorized)
}

function addActivity(record) {
  activity = [record].concat(activity.filter(function (r) { return r.audit_id !== record.audit_id })).slice(0, MAX_ACTIVITY)
  renderActivity()
}

function renderActivity() {
  var now = Date.now()
  var rows = activity.map(function (r) {
    var tr = el('tr')
    var at = el('td', 'seen', formatAgo(r.at, now))
    at.title = formatTime(r.at)
    tr.appendChild(at)
    var who = r.actor && r.actor.name ? r.actor.name + ' (' + r.actor.role + ')' : 'enrollment'
    tr.appendChild(el('td', '', who))
    tr.appendChild(el('td', 'mono', String(r.action)))
    tr.appendChild(el('td', 'mono', r.target === null || r.target === undefined ? '—' : String(r.target)))
    tr.appendChild(el('td', 'num' + (r.status >= 400 ? ' refused' : ''), String(r.status)))
    return tr
  })
  $('activity-body').replaceChildren.apply($('activity-body'), rows)
  $('activity-empty').hidden = activity.length > 0
}

function clearAccess() {
  setAllowed([])
  $('whoami').hidden = true
  $('whoami').replaceChildren()
  activity = []
  renderActivity()
}
`
