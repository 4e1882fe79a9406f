/** One agent's row in the agents table: built once by createAgentRow, kept by updateAgentRow. */
import type { Agent } from '../../../shared/api-schemas.ts'
import { drawSparkline, createSparkline, type MemoryPoint } from './chart-draw.ts'
import { button, el, setText, statusPill } from './dom.ts'
import { formatAgo, formatBytes, formatCount, formatTime, shortId } from './format.ts'

/** Which summary and filter groups an agent is in: its status plus its flags. */
export function agentGroups(a: Agent): string[] {
  const groups: string[] = [a.status]
  if (a.drained) groups.push('drained')
  if (a.quarantined) groups.push('quarantined')
  if (a.restart && a.restart.state === 'failed') groups.push('failed')
  return groups
}

function agentMemory(a: Agent): number | null {
  if (a.stats && typeof a.stats.rss_bytes === 'number') return a.stats.rss_bytes
  return a.pm2_info ? a.pm2_info.memory_bytes : null
}

/** A row for the agents table: cells are filled by updateAgentRow. */
export function createAgentRow(id: string): HTMLTableRowElement {
  const tr = el('tr')
  tr.dataset.agent = id
  const name = el('th', 'agent-id')
  name.scope = 'row'
  tr.appendChild(name)
  for (const cell of ['status', 'num', 'num', 'task', 'seen', 'hub', 'version', 'actions']) tr.appendChild(el('td', cell))
  const memory = tr.children[3]
  memory.appendChild(el('span', 'mem'))
  memory.appendChild(createSparkline())
  const actions = tr.lastChild!
  actions.appendChild(button('Restart', 'restart'))
  actions.appendChild(button('Drain', 'drain'))
  return tr
}

export function updateAgentRow(tr: HTMLTableRowElement, a: Agent, now: number, memoryPoints: readonly MemoryPoint[]): void {
  const c = tr.children as HTMLCollectionOf<HTMLElement>
  const [name, status, restarts, memory, task, seen, hub, version, actions] = Array.from(c)
  const labels = (a.labels || []).join(' ')
  if (name.dataset.shown !== `${a.agent_id} ${labels}`) {
    name.dataset.shown = `${a.agent_id} ${labels}`
    name.replaceChildren(document.createTextNode(a.agent_id))
    for (const l of a.labels || []) name.appendChild(el('span', 'tag t-label', l))
  }
  const groups = agentGroups(a).join(' ')
  if (status.dataset.groups !== groups) {
    status.dataset.groups = groups
    status.replaceChildren(statusPill(a.status))
    if (a.quarantined) status.appendChild(el('span', 'tag t-quarantined', 'quarantined'))
    else if (a.drained) status.appendChild(el('span', 'tag t-drained', 'drained'))
    if (a.restart && a.restart.state === 'failed') {
      const failed = el('span', 'tag t-failed', 'restart failed')
      failed.title = a.restart.error || ''
      status.appendChild(failed)
    }
  }
  setText(restarts, a.pm2_info ? formatCount(a.pm2_info.restart_count) : '—')
  const mem = agentMemory(a)
  setText(memory.firstChild!, formatBytes(mem))
  memory.title = typeof mem === 'number' ? `${formatCount(mem)} bytes` : ''
  drawSparkline(memory.lastChild as SVGSVGElement, memoryPoints)
  setText(task, a.task_id ? shortId(a.task_id) : '—')
  task.title = a.task_id || ''
  setText(seen, a.connected ? formatAgo(a.last_seen, now) : (a.last_seen ? formatAgo(a.last_seen, now) : '—'))
  seen.title = formatTime(a.last_seen)
  setText(hub, a.hub_id || '—')
  setText(version, a.version || '—')
  version.title = a.host ? [a.host.hostname, a.host.platform, a.host.arch, `node ${a.host.node_version}`].join(' · ') : ''
  const [restart, drain] = Array.from(actions.children as HTMLCollectionOf<HTMLButtonElement>)
  restart.disabled = !a.connected
  restart.title = a.connected ? '' : 'Not connected'
  restart.setAttribute('aria-label', `Restart ${a.agent_id}`)
  const resume = a.drained || a.quarantined
  setText(drain, resume ? 'Resume' : 'Drain')
  drain.dataset.action = resume ? 'resume' : 'drain'
  drain.setAttribute('aria-label', `${resume ? 'Resume ' : 'Drain '}${a.agent_id}`)
}
