/** The DOM of the panels beside the agents table: recent tasks, rollouts and healing history. */
import type { HealingAction, Rollout, Task } from '../../../shared/api-schemas.ts'
import { button, el, statusPill } from './dom.ts'
import { formatAgo, formatCount, formatTime, shortId } from './format.ts'

const SHOWN_ROWS = 50
const ROLLOUT_STATES = ['waiting', 'commanded', 'deferred', 'restarting', 'completed', 'failed']

/** The newest tasks first; `tasks` is oldest first. */
export function renderTasks(list: HTMLElement, tasks: readonly Task[], now: number): void {
  const rows: HTMLTableRowElement[] = []
  for (let i = tasks.length - 1; i >= 0 && rows.length < SHOWN_ROWS; i--) {
    const t = tasks[i]!
    const tr = el('tr')
    const id = el('th', 'mono')
    id.scope = 'row'
    const open = button(shortId(t.task_id), null, 'link mono')
    open.dataset.task = t.task_id
    open.title = t.task_id
    open.setAttribute('aria-label', `Open task ${t.task_id}`)
    id.appendChild(open)
    tr.appendChild(id)
    const status = el('td')
    status.appendChild(statusPill(t.status))
    if (t.error) status.title = String(t.error).slice(-300)
    tr.appendChild(status)
    tr.appendChild(el('td', 'mono', t.agent_id || '—'))
    tr.appendChild(el('td', 'num', t.attempts === undefined ? '—' : formatCount(t.attempts)))
    const updated = el('td', 'seen', formatAgo(t.updated_at, now))
    updated.title = formatTime(t.updated_at)
    tr.appendChild(updated)
    rows.push(tr)
  }
  list.replaceChildren(...rows)
}

export function renderRollout(r: Rollout): HTMLLIElement {
  const li = el('li', 'rollout')
  li.dataset.rollout = r.rollout_id
  const head = el('div', 'rollout-head')
  const title = el('span', 'mono', `Rollout ${shortId(r.rollout_id)}`)
  title.title = r.rollout_id
  head.appendChild(title)
  head.appendChild(statusPill(r.state))
  head.appendChild(el('span', 'muted', `max unavailable ${r.max_unavailable}${r.reason ? ` · ${r.reason}` : ''}`))
  if (r.state === 'running') head.appendChild(button('Cancel', 'cancel-rollout', 'small'))
  li.appendChild(head)
  const counts: Record<string, number> = {}
  const agents = r.agents || []
  for (const a of agents) counts[a.state] = (counts[a.state] || 0) + 1
  const done = counts.completed || 0
  const bar = el('progress')
  bar.max = Math.max(1, agents.length)
  bar.value = done
  bar.setAttribute('aria-label', `Rollout ${shortId(r.rollout_id)}: ${done} of ${agents.length} restarted`)
  li.appendChild(bar)
  const parts = ROLLOUT_STATES.filter((s) => counts[s]).map((s) => `${formatCount(counts[s]!)} ${s}`)
  li.appendChild(el('p', 'rollout-counts', `${done} / ${agents.length} done${parts.length ? ` — ${parts.join(' · ')}` : ''}`))
  return li
}

/** The newest actions first, as the hub sends them. */
export function renderHealing(list: HTMLElement, actions: readonly HealingAction[], now: number): void {
  const rows = actions.slice(0, SHOWN_ROWS).map((h) => {
    const tr = el('tr')
    const at = el('td', 'seen', formatAgo(h.at, now))
    at.title = formatTime(h.at)
    tr.appendChild(at)
    tr.appendChild(el('th', 'mono', h.agent_id)).scope = 'row'
    tr.appendChild(el('td', '', h.rule))
    tr.appendChild(el('td', '', h.action))
    const state = el('td')
    if (h.state) state.appendChild(statusPill(h.state))
    tr.appendChild(state)
    tr.appendChild(el('td', 'detail', typeof h.detail === 'string' ? h.detail : JSON.stringify(h.detail)))
    return tr
  })
  list.replaceChildren(...rows)
}
