/**
 * The dashboard's browser entry, bundled by scripts/build-dashboard.ts into the one script the
 * hub serves at /dashboard.js: it builds the views, signs in and out, and starts the session's
 * events stream. Every admin request goes through session.ts.
 */
import type { Agent, RestartCommanded } from '../../../shared/api-schemas.ts'
import { clearAccess, loadAccess, loadActivity } from './access.ts'
import { createCharts } from './charts.ts'
import { $, closestTo, setText } from './dom.ts'
import { openEventStream } from './events-client.ts'
import { createFleetView } from './fleet-view.ts'
import { shortId } from './format.ts'
import { listenToPanelActions } from './panel-actions.ts'
import {
  REFUSED, api, currentSession, errorText, forgetToken, ignoreUnauthorized, nextSession, saveToken, token, whenRefused,
} from './session.ts'
import { clearPanels, schedulePanels } from './side-panels.ts'
import { createSync } from './sync.ts'
import { listenToTaskView } from './task-view.ts'
import { confirmAction, hideBanner, setConn, showBanner, toast } from './ui.ts'

const TICK_MS = 5000
/** The hub's history is the truth: what a missed event left out comes back within a minute. */
const HISTORY_MS = 60_000

const charts = createCharts({ statuses: $('chart-statuses', SVGSVGElement), finished: $('chart-finished', SVGSVGElement) })
const fleet = createFleetView({
  summary: $('summary'), search: $('search', HTMLInputElement), body: $('agents-body'), table: $('agents'),
  pageInfo: $('page-info'), prev: $('prev', HTMLButtonElement), next: $('next', HTMLButtonElement), empty: $('agents-empty'),
  memoryPoints: charts.memoryPoints,
})
const sync = createSync({ fleet, charts })
let stream: { stop(): void } | null = null

const agentPath = (id: string, action: string) => `/api/admin/agents/${encodeURIComponent(id)}/${action}`

async function runAgentAction(id: string, action: string): Promise<void> {
  const ok = action === 'restart'
    ? await confirmAction(`Restart ${id}?`, 'pm2 starts it again; a running task finishes first.')
    : action === 'drain'
      ? await confirmAction(`Drain ${id}?`, 'It keeps its running task but gets no new one until resumed.')
      : true
  if (!ok) return
  // Restart answers what it commanded; drain and resume answer the agent.
  const res = await api<RestartCommanded | Agent>('POST', agentPath(id, action), action === 'restart' ? { reason: 'dashboard' } : undefined)
  if (res.status !== 200) return toast(`${action} ${id} failed: ${errorText(res)}`, true)
  if (action === 'restart') {
    const { restart_id } = res.body as RestartCommanded
    toast(`Restart commanded for ${id}${restart_id ? ` (${shortId(restart_id)})` : ''}`)
  } else {
    fleet.upsert(res.body as Agent)
    toast(`${action === 'drain' ? 'Drained ' : 'Resumed '}${id}`)
  }
}

function start(): void {
  nextSession()
  $('signin').hidden = true
  $('app').hidden = false
  $('sign-out').hidden = false
  setConn('connecting', 'Connecting…')
  stream = openEventStream({
    url: '/api/admin/events',
    token,
    onOpen: (resumed) => { hideBanner(); setConn('live', 'Live'); if (!resumed) sync.snapshot() },
    onEvent: sync.applyEvent,
    onDown: (ms) => {
      setConn('down', `Reconnecting in ${Math.ceil(ms / 1000)} s`)
      showBanner(`Lost the live connection to the hub. Reconnecting in ${Math.ceil(ms / 1000)} s.`)
    },
    onUnauthorized: () => signOut(REFUSED),
    onUnavailable: sync.startPolling,
  })
  void loadAccess()
  void loadActivity()
}

function signOut(message: string): void {
  nextSession()
  stream?.stop()
  stream = null
  sync.stop()
  forgetToken()
  fleet.clear()
  charts.clear()
  clearPanels()
  clearAccess()
  hideBanner()
  $('app').hidden = true
  $('sign-out').hidden = true
  $('signin').hidden = false
  setConn('off', '')
  const error = $('signin-error')
  error.hidden = !message
  setText(error, message || '')
  $('token').focus()
}

whenRefused(signOut)
listenToPanelActions(fleet)
listenToTaskView()
$('signin-form').addEventListener('submit', (e) => {
  e.preventDefault()
  const input = $('token', HTMLInputElement)
  const value = input.value.trim()
  if (!value) { $('signin-error').hidden = false; setText($('signin-error'), 'Paste an admin token first.'); return }
  saveToken(value)
  input.value = ''
  $('signin-error').hidden = true
  start()
})
$('sign-out').addEventListener('click', () => signOut(''))
$('agents-body').addEventListener('click', (e) => {
  const b = closestTo(e.target, 'button[data-action]')
  const tr = b && closestTo(b, 'tr[data-agent]')
  if (b && tr) runAgentAction(tr.dataset.agent!, b.dataset.action!).catch(ignoreUnauthorized)
})

const signedIn = () => currentSession() > 0 && !$('app').hidden
setInterval(() => { if (signedIn()) { fleet.tick(); schedulePanels(); charts.statusesNow(fleet.counts()) } }, TICK_MS)
setInterval(() => { if (signedIn()) sync.loadHistory().catch(ignoreUnauthorized) }, HISTORY_MS)

if (token()) start()
else $('token').focus()
