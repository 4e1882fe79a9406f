/**
 * Browser code, as a string: the agents held in memory and the paged table over them. Built
 * for 10 000 agents: counts change by difference, the sorted id list is rebuilt only when an
 * agent is new, a filter is re-applied only when membership may have changed, and a render
 * (at most one per animation frame) touches only the rows of the page that changed.
 */
export const FLEET_JS = String.raw`
var PAGE_SIZE = 100
var GROUPS = ['idle', 'working', 'restarting', 'offline', 'drained', 'quarantined', 'failed']

function createFleetView(dom) {
  var agents = new Map()
  var counts = {}
  var sortedIds = []
  var sortDirty = false
  var listDirty = true
  var list = []
  var filter = 'all'
  var search = ''
  var page = 0
  var rows = new Map()
  var shownIds = []
  var dirty = new Set()
  var frame = 0
  var summaryButtons = {}

  function matches(a) {
    if (!a) return false
    if (search && a.agent_id.toLowerCase().indexOf(search) < 0) return false
    return filter === 'all' || agentGroups(a).indexOf(filter) >= 0
  }

  function count(a, delta) {
    var groups = agentGroups(a)
    for (var i = 0; i < groups.length; i++) counts[groups[i]] = (counts[groups[i]] || 0) + delta
  }

  function upsert(a) {
    if (!a || typeof a.agent_id !== 'string') return
    var old = agents.get(a.agent_id)
    if (old) count(old, -1)
    else { sortedIds.push(a.agent_id); sortDirty = true; listDirty = true }
    agents.set(a.agent_id, a)
    count(a, 1)
    if (filter !== 'all' && matches(old) !== matches(a)) listDirty = true
    dirty.add(a.agent_id)
    schedule()
  }

  function replaceAll(list) {
    agents = new Map()
    counts = {}
    sortedIds = []
    for (var i = 0; i < list.length; i++) {
      var a = list[i]
      if (!a || typeof a.agent_id !== 'string') continue
      if (!agents.has(a.agent_id)) sortedIds.push(a.agent_id)
      else count(agents.get(a.agent_id), -1)
      agents.set(a.agent_id, a)
      count(a, 1)
    }
    sortDirty = true
    listDirty = true
    rows = new Map()
    shownIds = []
    schedule()
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(render)
  }

  function buildSummary() {
    var all = button('All', null, 'chip')
    all.dataset.filter = 'all'
    dom.summary.appendChild(all)
    summaryButtons.all = all
    for (var i = 0; i < GROUPS.length; i++) {
      var b = button(GROUPS[i], null, 'chip g-' + GROUPS[i])
      b.dataset.filter = GROUPS[i]
      dom.summary.appendChild(b)
      summaryButtons[GROUPS[i]] = b
    }
    dom.summary.addEventListener('click', function (e) {
      var b = e.target.closest('button[data-filter]')
      if (b) setFilter(b.dataset.filter)
    })
  }

  function renderSummary() {
    setText(summaryButtons.all, formatCount(agents.size) + (agents.size === 1 ? ' agent' : ' agents'))
    for (var i = 0; i < GROUPS.length; i++) {
      var g = GROUPS[i]
      var n = counts[g] || 0
      setText(summaryButtons[g], formatCount(n) + ' ' + g)
      summaryButtons[g].hidden = n === 0 && filter !== g && (g === 'drained' || g === 'quarantined' || g === 'failed')
    }
    for (var key in summaryButtons) summaryButtons[key].setAttribute('aria-pressed', String(filter === key))
  }

  function render() {
    frame = 0
    var now = Date.now()
    renderSummary()
    if (sortDirty) { sortedIds.sort(collator.compare); sortDirty = false; listDirty = true }
    if (listDirty) {
      list = filter === 'all' && !search ? sortedIds : sortedIds.filter(function (id) { return matches(agents.get(id)) })
      listDirty = false
    }
    var pages = Math.max(1, Math.ceil(list.length / PAGE_SIZE))
    if (page >= pages) page = pages - 1
    var pageIds = list.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE)
    if (!sameIds(pageIds, shownIds)) showPage(pageIds, now)
    else dirty.forEach(function (id) { var tr = rows.get(id); if (tr) updateAgentRow(tr, agents.get(id), now) })
    dirty.clear()
    var first = list.length ? page * PAGE_SIZE + 1 : 0
    setText(dom.pageInfo, formatCount(first) + '–' + formatCount(page * PAGE_SIZE + pageIds.length) + ' of ' + formatCount(list.length))
    dom.prev.disabled = page === 0
    dom.next.disabled = page >= pages - 1
    dom.empty.hidden = list.length > 0
    setText(dom.empty, agents.size ? 'No agent matches this filter.' : 'No agent has connected to this hub yet.')
    var anyHub = false
    for (var i = 0; i < pageIds.length && !anyHub; i++) anyHub = !!agents.get(pageIds[i]).hub_id
    dom.table.classList.toggle('no-hub', !anyHub)
  }

  function showPage(pageIds, now) {
    // Keep focus on the same button when rows move, so keyboard users do not lose their place.
    var active = document.activeElement
    var focusAgent = active && active.closest && active.closest('tr[data-agent]')
    var focusIndex = focusAgent ? Array.prototype.indexOf.call(focusAgent.querySelectorAll('button'), active) : -1
    var next = new Map()
    var trs = []
    for (var i = 0; i < pageIds.length; i++) {
      var id = pageIds[i]
      var tr = rows.get(id) || createAgentRow(id)
      updateAgentRow(tr, agents.get(id), now)
      next.set(id, tr)
      trs.push(tr)
    }
    dom.body.replaceChildren.apply(dom.body, trs)
    rows = next
    shownIds = pageIds
    if (focusAgent && focusIndex >= 0 && rows.get(focusAgent.dataset.agent)) {
      rows.get(focusAgent.dataset.agent).querySelectorAll('button')[focusIndex].focus()
    }
  }

  function sameIds(a, b) {
    if (a.length !== b.length) return false
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
    return true
  }

  function setFilter(value) {
    filter = value
    page = 0
    listDirty = true
    schedule()
  }

  buildSummary()
  dom.search.addEventListener('input', function () {
    search = dom.search.value.trim().toLowerCase()
    page = 0
    listDirty = true
    schedule()
  })
  dom.prev.addEventListener('click', function () { if (page > 0) { page--; schedule() } })
  dom.next.addEventListener('click', function () { page++; schedule() })

  return {
    upsert: upsert,
    replaceAll: replaceAll,
    get: function (id) { return agents.get(id) },
    /** Agents by group (status and flags), kept by difference. */
    counts: function () { return counts },
    values: function () { return agents.values() },
    /** Relative times move on: refresh the visible rows. */
    tick: function () { shownIds.forEach(function (id) { dirty.add(id) }); schedule() },
    clear: function () { replaceAll([]) },
  }
}
`
