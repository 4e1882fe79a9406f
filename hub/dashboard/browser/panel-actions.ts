/**
 * The rolling restart and healing controls: starting and cancelling a rollout, pausing and
 * resuming healing, and reading the healing history and running rollouts from the hub.
 */
import type { HealingView, Rollout } from '../../../shared/api-schemas.ts'
import { $, closestTo, setText } from './dom.ts'
import type { FleetView } from './fleet-view.ts'
import { formatCount, shortId } from './format.ts'
import { api, errorText, ignoreUnauthorized } from './session.ts'
import { replaceHealing, rolloutSeen, runningRollouts } from './side-panels.ts'
import { confirmAction, toast } from './ui.ts'

function setHealingPaused(paused: boolean): void {
  setText($('healing-state'), paused ? 'Paused: no healing action starts.' : 'Active.')
  setText($('healing-toggle'), paused ? 'Resume healing' : 'Pause healing')
  $('healing-toggle').dataset.paused = String(paused)
}

/** The healing history; a hub without healing (or failing) hides the panel. */
export async function loadHealing(): Promise<void> {
  const res = await api<HealingView | null>('GET', '/api/admin/healing')
  const ok = res.status === 200 && !!res.body && Array.isArray(res.body.actions)
  $('healing').hidden = !ok
  if (!ok) return
  replaceHealing(res.body!.actions)
  setHealingPaused(!!res.body!.paused)
}

/** A running rollout's events may have been missed: ask for each again. */
export function refreshRollouts(): void {
  for (const id of runningRollouts()) {
    api<Rollout>('GET', `/api/admin/rollouts/${encodeURIComponent(id)}`).then((res) => {
      if (res.status === 200) rolloutSeen(res.body)
    }).catch(ignoreUnauthorized)
  }
}

async function startRollout(fleet: FleetView): Promise<void> {
  const max = Number($('max-unavailable', HTMLInputElement).value)
  if (!Number.isInteger(max) || max < 1) { toast('Max unavailable must be a whole number of at least 1.', true); return }
  let n = 0
  for (const a of fleet.values()) if (a.connected && a.supervised !== false) n++
  const ok = await confirmAction(`Restart ${formatCount(n)} agents?`, `Every connected, supervised agent, one by one, at most ${max} at a time.`)
  if (!ok) return
  const res = await api<Rollout>('POST', '/api/admin/rollouts', { max_unavailable: max, reason: 'dashboard' })
  if (res.status !== 201) return toast(`Rolling restart failed: ${errorText(res)}`, true)
  rolloutSeen(res.body)
  toast(`Rolling restart started (${shortId(res.body.rollout_id)})`)
}

async function cancelRollout(id: string): Promise<void> {
  const res = await api<Rollout>('POST', `/api/admin/rollouts/${encodeURIComponent(id)}/cancel`)
  if (res.status === 200) rolloutSeen(res.body)
  else toast(`Cancel failed: ${errorText(res)}`, true)
}

async function toggleHealing(): Promise<void> {
  const action = $('healing-toggle').dataset.paused === 'true' ? 'resume' : 'pause'
  const res = await api<{ paused: boolean }>('POST', `/api/admin/healing/${action}`)
  if (res.status === 200) setHealingPaused(!!res.body.paused)
  else toast(`Healing ${action} failed: ${errorText(res)}`, true)
}

export function listenToPanelActions(fleet: FleetView): void {
  $('rollouts').addEventListener('click', (e) => {
    const b = closestTo(e.target, 'button[data-action="cancel-rollout"]')
    const li = b && closestTo(b, 'li[data-rollout]')
    if (li) cancelRollout(li.dataset.rollout!).catch(ignoreUnauthorized)
  })
  $('rollout-form').addEventListener('submit', (e) => {
    e.preventDefault()
    startRollout(fleet).catch(ignoreUnauthorized)
  })
  $('healing-toggle').addEventListener('click', () => { toggleHealing().catch(ignoreUnauthorized) })
}
