/**
 * The agents held in memory and the paged table over them. Built for 10 000 agents: counts
 * change by difference, the sorted id list is rebuilt only when an agent is new, a filter is
 * re-applied only when membership may have changed, and a render (at most one per animation
 * frame) touches only the rows of the page that changed.
 */
import type { Agent } from '../../../shared/api-schemas.ts'
import { agentGroups, createAgentRow, updateAgentRow } from './agent-row.ts'
import type { MemoryPoint } from './chart-draw.ts'
import { button, closestTo, setText } from './dom.ts'
import { collator, formatCount } from './format.ts'

const PAGE_SIZE = 100
const GROUPS = ['idle', 'working', 'restarting', 'offline', 'drained', 'quarantined', 'failed']

export interface FleetDom {
  summary: HTMLElement; search: HTMLInputElement; body: HTMLElement; table: HTMLElement
  pageInfo: HTMLElement; prev: HTMLButtonElement; next: HTMLButtonElement; empty: HTMLElement
  /** An agent's recent memory reports, for its row's sparkline. */
  memoryPoints: (agentId: string) => readonly MemoryPoint[]
}

export type FleetView = ReturnType<typeof createFleetView>

export function createFleetView(dom: FleetDom) {
  let agents = new Map<string, Agent>()
  let counts: Record<string, number> = {}
  let sortedIds: string[] = []
  let sortDirty = false
  let listDirty = true
  let list: string[] = []
  let filter = 'all'
  let search = ''
  let page = 0
  let rows = new Map<string, HTMLTableRowElement>()
  let shownIds: string[] = []
  const dirty = new Set<string>()
  let frame = 0
  const summaryButtons: Record<string, HTMLButtonElement> = {}

  function matches(a: Agent | undefined): boolean {
    if (!a) return false
    if (search && !a.agent_id.toLowerCase().includes(search)) return false
    return filter === 'all' || agentGroups(a).includes(filter)
  }

  function count(a: Agent, delta: number): void {
    for (const g of agentGroups(a)) counts[g] = (counts[g] || 0) + delta
  }

  function upsert(a: Agent | null): void {
    if (!a || typeof a.agent_id !== 'string') return
    const old = agents.get(a.agent_id)
    if (old) count(old, -1)
    else { sortedIds.push(a.agent_id); sortDirty = true; listDirty = true }
    agents.set(a.agent_id, a)
    count(a, 1)
    if (filter !== 'all' && matches(old) !== matches(a)) listDirty = true
    dirty.add(a.agent_id)
    schedule()
  }

  function replaceAll(all: readonly (Agent | null)[]): void {
    agents = new Map()
    counts = {}
    sortedIds = []
    for (const a of all) {
      if (!a || typeof a.agent_id !== 'string') continue
      const old = agents.get(a.agent_id)
      if (!old) sortedIds.push(a.agent_id)
      else count(old, -1)
      agents.set(a.agent_id, a)
      count(a, 1)
    }
    sortDirty = true
    listDirty = true
    rows = new Map()
    shownIds = []
    schedule()
  }

  function schedule(): void {
    if (!frame) frame = requestAnimationFrame(render)
  }

  function buildSummary(): void {
    const all = button('All', null, 'chip')
    all.dataset.filter = 'all'
    dom.summary.appendChild(all)
    summaryButtons.all = all
    for (const g of GROUPS) {
      const b = button(g, null, `chip g-${g}`)
      b.dataset.filter = g
      dom.summary.appendChild(b)
      summaryButtons[g] = b
    }
    dom.summary.addEventListener('click', (e) => {
      const b = closestTo(e.target, 'button[data-filter]')
      if (b) setFilter(b.dataset.filter!)
    })
  }

  function renderSummary(): void {
    setText(summaryButtons.all!, formatCount(agents.size) + (agents.size === 1 ? ' agent' : ' agents'))
    for (const g of GROUPS) {
      const n = counts[g] || 0
      setText(summaryButtons[g]!, `${formatCount(n)} ${g}`)
      summaryButtons[g]!.hidden = n === 0 && filter !== g && (g === 'drained' || g === 'quarantined' || g === 'failed')
    }
    for (const [key, b] of Object.entries(summaryButtons)) b.setAttribute('aria-pressed', String(filter === key))
  }

  function render(): void {
    frame = 0
    const now = Date.now()
    renderSummary()
    if (sortDirty) { sortedIds.sort(collator.compare); sortDirty = false; listDirty = true }
    if (listDirty) {
      list = filter === 'all' && !search ? sortedIds : sortedIds.filter((id) => matches(agents.get(id)))
      listDirty = false
    }
    const pages = Math.max(1, Math.ceil(list.length / PAGE_SIZE))
    if (page >= pages) page = pages - 1
    const pageIds = list.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE)
    if (!sameIds(pageIds, shownIds)) showPage(pageIds, now)
    else for (const id of dirty) { const tr = rows.get(id); if (tr) updateAgentRow(tr, agents.get(id)!, now, dom.memoryPoints(id)) }
    dirty.clear()
    const first = list.length ? page * PAGE_SIZE + 1 : 0
    setText(dom.pageInfo, `${formatCount(first)}–${formatCount(page * PAGE_SIZE + pageIds.length)} of ${formatCount(list.length)}`)
    dom.prev.disabled = page === 0
    dom.next.disabled = page >= pages - 1
    dom.empty.hidden = list.length > 0
    setText(dom.empty, agents.size ? 'No agent matches this filter.' : 'No agent has connected to this hub yet.')
    const anyHub = pageIds.some((id) => !!agents.get(id)!.hub_id)
    dom.table.classList.toggle('no-hub', !anyHub)
  }

  function showPage(pageIds: string[], now: number): void {
    // Keep focus on the same button when rows move, so keyboard users do not lose their place.
    const active = document.activeElement
    const focusAgent = closestTo<HTMLTableRowElement>(active, 'tr[data-agent]')
    const focusIndex = focusAgent ? Array.from(focusAgent.querySelectorAll('button')).indexOf(active as HTMLButtonElement) : -1
    const next = new Map<string, HTMLTableRowElement>()
    for (const id of pageIds) {
      const tr = rows.get(id) || createAgentRow(id)
      updateAgentRow(tr, agents.get(id)!, now, dom.memoryPoints(id))
      next.set(id, tr)
    }
    dom.body.replaceChildren(...next.values())
    rows = next
    shownIds = pageIds
    const kept = focusAgent && focusIndex >= 0 ? rows.get(focusAgent.dataset.agent!) : undefined
    kept?.querySelectorAll('button')[focusIndex]?.focus()
  }

  function sameIds(a: readonly string[], b: readonly string[]): boolean {
    return a.length === b.length && a.every((id, i) => id === b[i])
  }

  function setFilter(value: string): void {
    filter = value
    page = 0
    listDirty = true
    schedule()
  }

  buildSummary()
  dom.search.addEventListener('input', () => {
    search = dom.search.value.trim().toLowerCase()
    page = 0
    listDirty = true
    schedule()
  })
  dom.prev.addEventListener('click', () => { if (page > 0) { page--; schedule() } })
  dom.next.addEventListener('click', () => { page++; schedule() })

  return {
    upsert,
    replaceAll,
    get: (id: string) => agents.get(id),
    /** Agents by group (status and flags), kept by difference. */
    counts: (): Record<string, number> => counts,
    values: () => agents.values(),
    /** Relative times move on: refresh the visible rows. */
    tick: (): void => { for (const id of shownIds) dirty.add(id); schedule() },
    clear: (): void => replaceAll([]),
  }
}
