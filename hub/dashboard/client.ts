/**
 * The dashboard's browser script, served at /dashboard.js: the session (admin token in
 * sessionStorage only, sent as a bearer header, never a cookie), the first fetch and the events
 * stream, and the actions. Plain strings, not compiled TypeScript: nothing is built at run time.
 */
import { SSE_CLIENT_JS } from './client-sse.ts'
import { VIEW_JS } from './client-view.ts'
import { FLEET_JS } from './client-fleet.ts'
import { PANELS_JS } from './client-panels.ts'
import { CHARTS_JS } from './client-charts.ts'
import { ACCESS_JS } from './client-access.ts'
import { TASKS_JS } from './client-tasks.ts'

const APP_JS = String.raw`
var TOKEN_KEY = 'agentcom.admin_token'
var MAX_TASKS = 100
var MAX_ROLLOUTS = 20
var MAX_HEALING = 200
var POLL_MS = 10000
var $ = function (id) { return document.getElementById(id) }

var fleet = createFleetView({
  summary: $('summary'), search: $('search'), body: $('agents-body'), table: $('agents'),
  pageInfo: $('page-info'), prev: $('prev'), next: $('next'), empty: $('agents-empty'),
})
var charts = createCharts({ statuses: $('chart-statuses'), finished: $('chart-finished') })
var tasks = new Map()
var rollouts = new Map()
var healing = []
var session = 0
var stream = null
var pollTimer = 0
var snapshotting = false
var snapshotAgain = false
var queued = []
var sideFrame = 0

function token() { return sessionStorage.getItem(TOKEN_KEY) || '' }

function Unauthorized() {}

/** One admin request. 401 ends the session; a network failure shows the banner. */
function api(method, path, body) {
  var mine = session
  var headers = { authorization: 'Bearer ' + token(), accept: 'application/json' }
  if (body !== undefined) headers['content-type'] = 'application/json'
  return fetch(path, {
    method: method, headers: headers, credentials: 'omit', cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  }).then(function (res) {
    if (mine !== session) throw new Unauthorized()
    if (res.status === 401) { signOut('The hub refused this token (expired, revoked or wrong). Sign in again.'); throw new Unauthorized() }
    hideBanner()
    return res.json().catch(function () { return null }).then(function (json) { return { status: res.status, body: json } })
  }, function (err) {
    if (mine === session) showBanner('Cannot reach the hub. Check that it is running; retrying.')
    throw err
  })
}

function showBanner(text) { setText($('banner'), text); $('banner').hidden = false }
function hideBanner() { $('banner').hidden = true }

var toastTimer = 0
function toast(text, isError) {
  var t = $('toast')
  t.className = isError ? 'toast error' : 'toast'
  setText(t, text)
  t.hidden = false
  clearTimeout(toastTimer)
  toastTimer = setTimeout(function () { t.hidden = true }, isError ? 10000 : 5000)
}

function errorText(res) {
  var b = res.body || {}
  var text = b.error || ('HTTP ' + res.status)
  if (b.detail) text += ': ' + b.detail
  else if (b.issues && b.issues[0] && b.issues[0].message) text += ': ' + b.issues[0].message
  return text
}

function setConn(state, text) {
  var c = $('conn')
  c.className = 'conn c-' + state
  setText(c, text)
}

/** Resolves true when the operator presses Confirm; Escape or Cancel resolve false. */
function confirmAction(title, detail) {
  var dialog = $('confirm')
  setText($('confirm-title'), title)
  setText($('confirm-detail'), detail)
  dialog.returnValue = ''
  dialog.showModal()
  $('confirm-ok').focus()
  return new Promise(function (resolve) {
    dialog.addEventListener('close', function () { resolve(dialog.returnValue === 'confirm') }, { once: true })
  })
}

function agentPath(id, action) { return '/api/admin/agents/' + encodeURIComponent(id) + '/' + action }

function runAgentAction(id, action) {
  var ask = action === 'restart'
    ? confirmAction('Restart ' + id + '?', 'pm2 starts it again; a running task finishes first.')
    : action === 'drain'
      ? confirmAction('Drain ' + id + '?', 'It keeps its running task but gets no new one until resumed.')
      : Promise.resolve(true)
  ask.then(function (ok) {
    if (!ok) return
    return api('POST', agentPath(id, action), action === 'restart' ? { reason: 'dashboard' } : undefined).then(function (res) {
      if (res.status !== 200) return toast(action + ' ' + id + ' failed: ' + errorText(res), true)
      if (action === 'restart') toast('Restart commanded for ' + id + (res.body.restart_id ? ' (' + shortId(res.body.restart_id) + ')' : ''))
      else { fleet.upsert(res.body); toast((action === 'drain' ? 'Drained ' : 'Resumed ') + id) }
    })
  }).catch(ignoreUnauthorized)
}

function ignoreUnauthorized(err) {
  if (!(err instanceof Unauthorized)) toast('Request failed: ' + (err && err.message ? err.message : err), true)
}

/** What the charts start from; a hub without it (or failing) leaves them to the events. */
function loadHistory() {
  return api('GET', '/api/admin/metrics/history').then(function (res) {
    if (res.status === 200) charts.load(res.body)
  }, function () {})
}

/** Every agent, page by page when the hub pages (next_cursor), else in one answer. */
function loadAgents() {
  var all = []
  var seen = {}
  function page(cursor) {
    var path = '/api/admin/agents?limit=1000' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '')
    return api('GET', path).then(function (res) {
      if (res.status !== 200 || !res.body || !Array.isArray(res.body.agents)) throw new Error('agents: ' + errorText(res))
      all = all.concat(res.body.agents)
      var next = res.body.next_cursor
      if (typeof next !== 'string' || !next || seen[next]) return all
      seen[next] = true
      return page(next)
    })
  }
  return page(null)
}

/**
 * Everything from scratch. Events that arrive meanwhile wait and are applied after it, in
 * order: each carries a whole view, so the last one for an agent is the newest state.
 */
function snapshot() {
  if (snapshotting) { snapshotAgain = true; return }
  snapshotting = true
  queued = []
  var mine = session
  Promise.all([loadAgents(), loadHealing(), loadHistory(), loadTasks()]).then(function (r) {
    if (mine !== session) return
    r[0].forEach(charts.agentSeen)
    fleet.replaceAll(r[0])
    charts.statusesNow(fleet.counts())
    refreshRollouts()
  }).catch(function (err) {
    if (!(err instanceof Unauthorized) && mine === session) showBanner('Could not load the fleet: ' + (err.message || err) + '. Retrying.')
    if (mine === session) setTimeout(function () { if (mine === session) snapshot() }, 5000)
  }).then(function () {
    if (mine !== session) return
    snapshotting = false
    var events = queued
    queued = []
    events.forEach(applyEvent)
    if (snapshotAgain) { snapshotAgain = false; snapshot() }
  })
}

function applyEvent(e) {
  if (snapshotting && e.event !== 'reset') { queued.push(e); return }
  var data
  try { data = JSON.parse(e.data) } catch (err) { return } // not ours to show; the next event carries the state again
  if (e.event === 'agent') { charts.agentSeen(data); fleet.upsert(data); charts.statusesNow(fleet.counts()) }
  else if (e.event === 'task' && data && data.task_id) { keepRecent(tasks, data.task_id, data, MAX_TASKS); charts.taskSeen(data) }
  else if (e.event === 'rollout' && data && data.rollout_id) keepRecent(rollouts, data.rollout_id, data, MAX_ROLLOUTS)
  else if (e.event === 'healing' && data && data.action_id) addHealing(data)
  else if (e.event === 'audit' && data && data.audit_id) addActivity(data)
  else if (e.event === 'reset') { snapshot(); loadActivity() }
}

function startPolling() {
  setConn('polling', 'Polling every ' + POLL_MS / 1000 + ' s')
  var mine = session
  snapshot()
  pollTimer = setInterval(function () { if (mine === session && !snapshotting) snapshot() }, POLL_MS)
}

function start() {
  session++
  $('signin').hidden = true
  $('app').hidden = false
  $('sign-out').hidden = false
  setConn('connecting', 'Connecting…')
  stream = openEventStream({
    url: '/api/admin/events',
    token: token,
    onOpen: function (resumed) { hideBanner(); setConn('live', 'Live'); if (!resumed) snapshot() },
    onEvent: applyEvent,
    onDown: function (ms) {
      setConn('down', 'Reconnecting in ' + Math.ceil(ms / 1000) + ' s')
      showBanner('Lost the live connection to the hub. Reconnecting in ' + Math.ceil(ms / 1000) + ' s.')
    },
    onUnauthorized: function () { signOut('The hub refused this token (expired, revoked or wrong). Sign in again.') },
    onUnavailable: startPolling,
  })
  loadAccess()
  loadActivity()
}

function signOut(message) {
  session++
  if (stream) stream.stop()
  stream = null
  clearInterval(pollTimer)
  sessionStorage.removeItem(TOKEN_KEY)
  fleet.clear()
  charts.clear()
  tasks.clear()
  rollouts.clear()
  healing = []
  clearAccess()
  snapshotting = false
  queued = []
  scheduleSide()
  hideBanner()
  $('app').hidden = true
  $('sign-out').hidden = true
  $('signin').hidden = false
  setConn('off', '')
  var error = $('signin-error')
  error.hidden = !message
  setText(error, message || '')
  $('token').focus()
}

$('signin-form').addEventListener('submit', function (e) {
  e.preventDefault()
  var value = $('token').value.trim()
  if (!value) { $('signin-error').hidden = false; setText($('signin-error'), 'Paste an admin token first.'); return }
  sessionStorage.setItem(TOKEN_KEY, value)
  $('token').value = ''
  $('signin-error').hidden = true
  start()
})
$('sign-out').addEventListener('click', function () { signOut('') })
$('agents-body').addEventListener('click', function (e) {
  var b = e.target.closest('button[data-action]')
  var tr = b && b.closest('tr[data-agent]')
  if (tr) runAgentAction(tr.dataset.agent, b.dataset.action)
})
`

// Runs last, once every function and listener above exists.
const BOOT_JS = String.raw`
setInterval(function () { if (session && !$('app').hidden) { fleet.tick(); scheduleSide(); charts.statusesNow(fleet.counts()) } }, 5000)
// The hub's history is the truth: what a missed event left out comes back within a minute.
setInterval(function () { if (session && !$('app').hidden) loadHistory().catch(ignoreUnauthorized) }, 60000)

if (token()) start()
else $('token').focus()
`

/** The whole script; one IIFE so nothing leaks into the page's globals. */
export const DASHBOARD_JS = `'use strict';\n(function () {\n${SSE_CLIENT_JS}\n${VIEW_JS}\n${CHARTS_JS}\n${FLEET_JS}\n${APP_JS}\n${PANELS_JS}\n${TASKS_JS}\n${ACCESS_JS}\n${BOOT_JS}\n})();\n`
